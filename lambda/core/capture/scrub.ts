/**
 * The PII and secret scrubber that runs on every captured exchange before it is written (issue 36: training data for
 * a small model must not carry what the prompts carried). Pure and deterministic: each match is replaced by a typed
 * placeholder (`[EMAIL]`, `[CARD]`, ...), so a model trained on the data learns the shape, not the value.
 *
 * What it finds, in this order (secrets first, since a key can contain what looks like a phone number):
 * - private key blocks (`-----BEGIN ... PRIVATE KEY-----` to its END line);
 * - API keys and tokens by their published prefixes: OpenAI / Anthropic (`sk-...`, `sk-ant-...`), AWS access key ids
 *   (`AKIA`/`ASIA` + 16), GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Slack (`xox[abprs]-`),
 *   Stripe (`sk_live_`, `rk_live_`, `pk_live_`), Google (`AIza` + 35), JWTs (`eyJ...`.`...`.`...`), and any value
 *   after a key-like label (`password=`, `secret:`, `api_key`, `token`, `aws_secret_access_key`, `Authorization: Bearer`);
 * - email addresses;
 * - payment card numbers (13-19 digits, spaces or dashes allowed, Luhn-valid);
 * - IBANs (country code, check digits, 11-30 alphanumerics, mod-97 valid);
 * - US social security numbers (`123-45-6789`);
 * - phone numbers (international `+CC ...`, `(555) 123-4567`, `555-123-4567`, `555.123.4567`, 10+ digit runs with
 *   separators);
 * - IPv4 addresses;
 * - names where the text says they are names: after "my name is", "I am"/"I'm" (two capitalised words), "Name:",
 *   "Dear", "Mr./Mrs./Ms./Dr./Prof.", and a signature line after "Regards,", "Thanks,", "Best,", "Sincerely,", "Cheers,".
 *
 * What it cannot catch is said in the README ("From frontier model to small model"): names mentioned in passing
 * ("ask Priya about it"), postal addresses, dates of birth, free-text identifiers without a fixed format, secrets
 * with no known prefix and no label, and anything in images or attachments.
 */

export type PiiKind = 'PRIVATE_KEY' | 'SECRET' | 'EMAIL' | 'CARD' | 'IBAN' | 'SSN' | 'PHONE' | 'IP' | 'NAME';

export interface ScrubResult {
  readonly text: string;
  /** How many of each kind were replaced. */
  readonly found: Readonly<Partial<Record<PiiKind, number>>>;
}

/** One to three capitalised words on one line, hyphenated parts allowed (Jean-Luc, O'Neil). */
const NAME_WORD = "[A-Z][a-z']+(?:-[A-Z]?[a-z']+)*(?:[ \\t]+[A-Z][a-z']+(?:-[A-Z]?[a-z']+)*){0,2}";

interface Rule {
  readonly kind: PiiKind;
  readonly re: RegExp;
  /** Keeps a match only when this holds (a checksum); the match's text. */
  readonly valid?: (match: string) => boolean;
  /** The capture group that is the value (its label kept); default the whole match. */
  readonly group?: number;
}

const RULES: readonly Rule[] = [
  { kind: 'PRIVATE_KEY', re: /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY-----/g },
  {
    kind: 'SECRET',
    re: new RegExp([
      'sk-(?:ant-|proj-)?[A-Za-z0-9_\\-]{16,}',
      '\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b',
      '\\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\\b',
      '\\bgithub_pat_[A-Za-z0-9_]{40,}\\b',
      '\\bxox[abprs]-[A-Za-z0-9-]{10,}\\b',
      '\\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\\b',
      '\\bAIza[0-9A-Za-z_\\-]{35}\\b',
      '\\beyJ[A-Za-z0-9_\\-]{8,}\\.[A-Za-z0-9_\\-]{8,}\\.[A-Za-z0-9_\\-]{8,}',
    ].join('|'), 'g'),
  },
  {
    // A value after a key-like label: the label stays, the value goes.
    kind: 'SECRET',
    re: /\b((?:aws_secret_access_key|secret_access_key|client_secret|api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd|pwd|token)\b["']?\s*[:=]\s*["']?|Authorization:\s*(?:Bearer|Basic)\s+|\bBearer\s+)([^\s"',;]{6,})/gi,
    group: 2,
  },
  { kind: 'EMAIL', re: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { kind: 'CARD', re: /\b\d(?:[ -]?\d){12,18}\b/g, valid: (m) => luhn(m.replace(/\D/g, '')) },
  { kind: 'IBAN', re: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g, valid: (m) => ibanValid(m.replace(/ /g, '')) },
  { kind: 'SSN', re: /\b\d{3}-\d{2}-\d{4}\b/g },
  {
    kind: 'PHONE',
    re: /(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}|\(\d{3}\)\s?\d{3}[\s.-]?\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4}\b|\b0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}\b)/g,
  },
  { kind: 'IP', re: /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g },
  { kind: 'NAME', re: new RegExp(`\\b((?:[Mm]y name is|I am|I'm|[Nn]ame:)\\s+)(${NAME_WORD})`, 'g'), group: 2 },
  { kind: 'NAME', re: new RegExp(`\\b((?:Dear|Hi|Hello)\\s+)(${NAME_WORD})(?=\\s*[,!\\n])`, 'g'), group: 2 },
  { kind: 'NAME', re: new RegExp(`\\b((?:Mr|Mrs|Ms|Mx|Dr|Prof)\\.?\\s+)(${NAME_WORD})`, 'g'), group: 2 },
  { kind: 'NAME', re: new RegExp(`((?:Regards|Best regards|Kind regards|Thanks|Thank you|Best|Sincerely|Cheers),?\\s*\\n\\s*)(${NAME_WORD})`, 'g'), group: 2 },
];

/** Replaces every PII item and secret the rules find with `[KIND]`; counts what it replaced. */
export function scrub(input: string): ScrubResult {
  let text = input;
  const found: Partial<Record<PiiKind, number>> = {};
  for (const rule of RULES) {
    text = text.replace(rule.re, (...args: unknown[]) => {
      const match = args[0] as string;
      const value = rule.group ? (args[rule.group] as string | undefined) : match;
      if (!value || value.startsWith('[') || (rule.valid && !rule.valid(value))) return match;
      found[rule.kind] = (found[rule.kind] ?? 0) + 1;
      return rule.group ? `${match.slice(0, match.length - value.length)}[${rule.kind}]` : `[${rule.kind}]`;
    });
  }
  return { text, found };
}

/** Scrubs every string in a JSON value (message contents, tool arguments), keys left as they are. */
export function scrubJson<T>(value: T, found: Partial<Record<PiiKind, number>> = {}): { value: T; found: Partial<Record<PiiKind, number>> } {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const r = scrub(v);
      for (const [k, n] of Object.entries(r.found)) found[k as PiiKind] = (found[k as PiiKind] ?? 0) + n;
      return r.text;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value) as T, found };
}

function luhn(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanValid(iban: string): boolean {
  if (iban.length < 15 || iban.length > 34) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const n = /[A-Z]/.test(ch) ? ch.charCodeAt(0) - 55 : Number(ch);
    rest = Number(`${rest}${n}`) % 97;
  }
  return rest === 1;
}
