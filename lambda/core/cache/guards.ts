/**
 * False-hit guards for the semantic tier. A similarity score above the threshold says two prompts share most of
 * their words or meaning; it does not say they ask the same thing. "Is 3 mg too much?" and "Is 30 mg too much?",
 * "Can I ..." and "Can't I ...", "learn Python" and "learn Java" all score high. Each guard compares one kind of
 * detail that changes the answer and must agree between the query and the cached prompt.
 */

import { tokens } from '../context/text';

export type GuardName = 'numbers' | 'negation' | 'identifiers' | 'entities' | 'language' | 'question' | 'person' | 'content';

export const GUARD_NAMES: readonly GuardName[] = ['numbers', 'negation', 'identifiers', 'entities', 'language', 'question', 'person', 'content'];

/**
 * Which guards run. `contentRule` says what the content guard compares: `exact` (the default) wants the same content
 * words in the same order, right for a lexical embedder whose score cannot see meaning; `order` only refuses the same
 * content words in another order ("convert benzene into toluene" / "toluene into benzene"), so a semantic embedder's
 * paraphrases in other words pass.
 */
export type GuardSettings = Readonly<Record<GuardName, boolean>> & {
  readonly contentRule?: ContentRule;
  /** The answer-slot check (answersOtherSlot); on unless false. Not a text guard: it reads the cached answer. */
  readonly answerSlot?: boolean;
};
export type ContentRule = 'exact' | 'order';

export const ALL_GUARDS: GuardSettings = Object.fromEntries(GUARD_NAMES.map((g) => [g, true])) as Record<GuardName, boolean>;
export const NO_GUARDS: GuardSettings = Object.fromEntries(GUARD_NAMES.map((g) => [g, false])) as Record<GuardName, boolean>;

/** What the guards compare, extracted once per text. */
export interface TextSignals {
  /** Lower-cased words (letters and digits), in order. */
  readonly words: readonly string[];
  readonly wordSet: ReadonlySet<string>;
  /** Normalised numbers: digits (1,000 -> 1000; 07 -> 7) and number words (three -> 3). */
  readonly numbers: ReadonlySet<string>;
  /** Negation markers counted (not, no, never, n't, cannot, without, ...; a few other languages). */
  readonly negations: number;
  /** Code-like tokens and mixed letter-digit names, lower-cased: user_id, getUser, ec2, v2.1, a@b.com, urls. */
  readonly identifiers: ReadonlySet<string>;
  /** Capitalised words not opening a sentence, and acronyms, lower-cased: python, paris, nasa. */
  readonly entities: ReadonlySet<string>;
  /** A script or a Latin-script language guessed from stop words; 'unknown' when there is too little text. */
  readonly language: string;
  /** Question words present (what, who, where, when, why, how, which), sorted and joined. */
  readonly question: string;
  /** Grammatical persons present: 1 (I, my), 2 (you, your), 3 (we, our) as a 3-character mask such as '100'. */
  readonly person: string;
  /** Content words in order of first use: stop words and numbers out, lightly stemmed (the context module's tokenizer). */
  readonly content: ReadonlySet<string>;
}

const QUESTION_WORDS = ['how', 'what', 'when', 'where', 'which', 'who', 'whom', 'whose', 'why'];
const PERSONS: ReadonlyArray<readonly string[]> = [
  ['i', 'me', 'my', 'mine', 'myself'],
  ['you', 'your', 'yours', 'yourself', 'yourselves', 'u'],
  ['we', 'us', 'our', 'ours', 'ourselves'],
];

const NUMBER_WORDS: Record<string, string> = {
  zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
  eleven: '11', twelve: '12', thirteen: '13', fourteen: '14', fifteen: '15', sixteen: '16', seventeen: '17',
  eighteen: '18', nineteen: '19', twenty: '20', thirty: '30', forty: '40', fifty: '50', sixty: '60', seventy: '70',
  eighty: '80', ninety: '90', hundred: '100', thousand: '1000', million: '1000000', billion: '1000000000',
  first: '1', second: '2', third: '3', half: '0.5', twice: '2', double: '2',
};

const NEGATIONS = new Set([
  'not', 'no', 'never', 'cannot', 'without', 'none', 'nobody', 'nothing', 'neither', 'nor', 'nowhere', 'neednt',
  // de, fr, es/it/pt
  'nicht', 'kein', 'keine', 'keinen', 'nie', 'niemals', 'pas', 'jamais', 'aucun', 'aucune', 'nunca', 'nada', 'nadie',
  'mai', 'non', 'não', 'nem',
]);

/** Stop words that tell Latin-script languages apart; only words frequent in one language and rare in the others. */
const LANGUAGE_MARKERS: Record<string, readonly string[]> = {
  en: ['the', 'is', 'are', 'what', 'how', 'why', 'which', 'and', 'of', 'to', 'in', 'can', 'do', 'does', 'i', 'you', 'it', 'for', 'with', 'should', 'my', 'be', 'best', 'will', 'would'],
  de: ['der', 'die', 'das', 'und', 'ist', 'nicht', 'ich', 'wie', 'was', 'warum', 'ein', 'eine', 'mit', 'für', 'auf', 'sind', 'kann', 'zu', 'den', 'dem', 'wir', 'sie'],
  fr: ['le', 'la', 'les', 'est', 'et', 'des', 'je', 'pas', 'une', 'pour', 'comment', 'pourquoi', 'quel', 'quelle', 'dans', 'que', 'qui', 'sont', 'avec', 'du', 'au', 'vous'],
  es: ['el', 'los', 'las', 'es', 'y', 'qué', 'que', 'cómo', 'por', 'para', 'una', 'con', 'del', 'mi', 'son', 'se', 'puedo', 'cuál', 'está', 'lo'],
  it: ['il', 'gli', 'che', 'è', 'di', 'perché', 'come', 'sono', 'una', 'per', 'con', 'del', 'della', 'non', 'posso', 'quale', 'cosa', 'nel'],
  pt: ['o', 'os', 'as', 'é', 'que', 'não', 'como', 'por', 'para', 'uma', 'com', 'do', 'da', 'em', 'qual', 'são', 'posso', 'meu', 'você'],
  nl: ['de', 'het', 'een', 'en', 'is', 'niet', 'ik', 'hoe', 'wat', 'waarom', 'van', 'voor', 'met', 'zijn', 'kan', 'op', 'je', 'dat'],
};
const MARKER_INDEX: ReadonlyMap<string, readonly string[]> = (() => {
  const m = new Map<string, string[]>();
  for (const [lang, words] of Object.entries(LANGUAGE_MARKERS)) for (const w of words) m.set(w, [...(m.get(w) ?? []), lang]);
  return m;
})();

const SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['han', /\p{Script=Han}/u], ['hiragana-katakana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u], ['hangul', /\p{Script=Hangul}/u],
  ['cyrillic', /\p{Script=Cyrillic}/u], ['arabic', /\p{Script=Arabic}/u], ['hebrew', /\p{Script=Hebrew}/u],
  ['greek', /\p{Script=Greek}/u], ['devanagari', /\p{Script=Devanagari}/u], ['thai', /\p{Script=Thai}/u], ['latin', /\p{Script=Latin}/u],
];

function guessLanguage(text: string, words: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const ch of text) {
    for (const [name, re] of SCRIPTS) {
      if (re.test(ch)) {
        counts.set(name, (counts.get(name) ?? 0) + 1);
        break;
      }
    }
  }
  let script = 'unknown';
  let best = 0;
  for (const [name, n] of counts) if (n > best) [script, best] = [name, n];
  // Japanese mixes kana and han; any kana makes it Japanese.
  if (script === 'han' && counts.has('hiragana-katakana')) script = 'hiragana-katakana';
  if (script !== 'latin') return script;
  const votes = new Map<string, number>();
  for (const w of words) for (const lang of MARKER_INDEX.get(w) ?? []) votes.set(lang, (votes.get(lang) ?? 0) + 1);
  const ranked = [...votes].sort((x, y) => y[1] - x[1]);
  // Two marker words and a clear lead, or it is too short to tell.
  if (ranked.length === 0 || ranked[0][1] < 2 || (ranked.length > 1 && ranked[1][1] * 2 > ranked[0][1])) return 'unknown';
  return ranked[0][0];
}

const QUOTED_RE = /(?:^|[\s(])["'“‘`]([^"'“”‘’`]{1,60})["'”’`]/g;
const WORD_RE = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;
const IDENT_RE = /\b(?:https?:\/\/\S+|[\w.+-]+@[\w-]+\.[\w.]+|[A-Za-z_$][\w$]*(?:[._/:][\w$]+)+|[A-Za-z]*[a-z][A-Z]\w*|[A-Za-z_]+_\w+|[A-Za-z]+\d[\w.]*|\d+[A-Za-z][\w]*)/g;

export function textSignals(text: string): TextSignals {
  const normalised = text.normalize('NFKC');
  const rawWords = normalised.match(WORD_RE) ?? [];
  const words: string[] = [];
  let negations = 0;
  const numbers = new Set<string>();
  for (const raw of rawWords) {
    const lower = raw.toLowerCase().replace('’', "'");
    if (/n't$/.test(lower) || lower === "can't" || lower === "won't") negations++;
    const base = lower.replace(/'\p{L}+$/u, '');
    words.push(base);
    if (NEGATIONS.has(base)) negations++;
    if (NUMBER_WORDS[base]) numbers.add(NUMBER_WORDS[base]);
  }
  for (const m of normalised.matchAll(/\d[\d,]*(?:\.\d+)?/g)) {
    const n = m[0].replace(/,(?=\d{3}\b)/g, '').replace(/,$/, '');
    numbers.add(String(Number(n)));
  }
  const identifiers = new Set<string>();
  for (const m of normalised.matchAll(IDENT_RE)) identifiers.add(m[0].toLowerCase().replace(/[.,;:!?)]+$/, ''));
  // Quoted text is usually the thing asked about: "use 'candor' in a sentence" vs "use 'atmosphere' ...".
  for (const m of normalised.matchAll(QUOTED_RE)) identifiers.add(m[1].trim().toLowerCase());
  const entities = new Set<string>();
  // Words after a sentence start are entity candidates when capitalised; the first word of each sentence is not.
  for (const sentence of normalised.split(/[.!?\n]+\s*/)) {
    const ws = sentence.match(WORD_RE) ?? [];
    ws.forEach((w, i) => {
      const acronym = /^\p{Lu}{2,}s?$/u.test(w);
      if ((i > 0 && /^\p{Lu}/u.test(w) && w !== 'I' && !/^I['’]/.test(w)) || acronym) entities.add(w.toLowerCase().replace(/['’]\p{L}+$/u, ''));
    });
  }
  return {
    words, wordSet: new Set(words), numbers, negations, identifiers, entities, language: guessLanguage(normalised, words),
    question: QUESTION_WORDS.filter((q) => words.includes(q)).join(','),
    person: PERSONS.map((p) => (p.some((x) => words.includes(x)) ? '1' : '0')).join(''),
    // Numbers are the numbers guard's: "1,000" and "one thousand" must not count as different content.
    content: new Set(tokens(normalised).filter((t) => !/^\d+$/.test(t) && !NUMBER_WORDS[t])),
  };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Every marked word of one text appears as a word (any case) in the other: capitalisation varies, names don't. */
function mentionsAll(marked: ReadonlySet<string>, other: TextSignals): boolean {
  for (const x of marked) {
    const parts = x.match(WORD_RE) ?? [x];
    if (!parts.every((p) => other.wordSet.has(p.toLowerCase()))) return false;
  }
  return true;
}

/** Which guards reject serving `cached`'s answer to `query`; empty when the hit may be served. */
export function failedGuards(query: TextSignals, cached: TextSignals, settings: GuardSettings = ALL_GUARDS): GuardName[] {
  const failed: GuardName[] = [];
  if (settings.numbers && !sameSet(query.numbers, cached.numbers)) failed.push('numbers');
  if (settings.negation && (query.negations > 0) !== (cached.negations > 0)) failed.push('negation');
  if (settings.identifiers && !(mentionsAll(query.identifiers, cached) && mentionsAll(cached.identifiers, query))) failed.push('identifiers');
  if (settings.entities && !(mentionsAll(query.entities, cached) && mentionsAll(cached.entities, query))) failed.push('entities');
  if (settings.language && query.language !== cached.language && query.language !== 'unknown' && cached.language !== 'unknown') failed.push('language');
  if (settings.question && query.question !== cached.question) failed.push('question');
  if (settings.person && query.person !== cached.person) failed.push('person');
  // Same content words in the same order of first use: "convert benzene into toluene" is not "toluene into benzene".
  if (settings.content && contentDiffers(query, cached, settings.contentRule ?? 'exact')) failed.push('content');
  return failed;
}

/**
 * Where two prompts differ when they differ in one place only, the rest word for word, and that place is short (at
 * most `maxWords` words on each side): a template's slot ("... my returns settings?" / "... my payment settings?").
 */
export function differingSpan(a: TextSignals, b: TextSignals, maxWords = 3): { readonly a: readonly string[]; readonly b: readonly string[] } | undefined {
  const x = a.words;
  const y = b.words;
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const sa = x.slice(head, x.length - tail);
  const sb = y.slice(head, y.length - tail);
  if (!sa.length || !sb.length || sa.length > maxWords || sb.length > maxWords) return undefined;
  return { a: sa, b: sb };
}

/**
 * The answer-slot check: the prompts differ in one short span only (differingSpan), and the cached answer speaks of
 * the cached prompt's span but of none of the query's: it answers the other slot ("To change your returns settings,
 * ..." for "How do I change my payment settings?"). Content words, stemmed, compared as words of the answer. A span
 * the answer mentions on neither side, or on both, passes: nothing says the answer is about the other one.
 */
export function answersOtherSlot(query: TextSignals, cached: TextSignals, answer: string): boolean {
  const span = differingSpan(query, cached);
  if (!span) return false;
  // Numbers are the numbers guard's (which a config may switch off): a slot is a word.
  const words = (ws: readonly string[]): string[] => tokens(ws.join(' ')).filter((t) => !/^\d+$/.test(t) && !NUMBER_WORDS[t]);
  const asked = words(span.a);
  const stored = words(span.b);
  if (!asked.length || !stored.length) return false;
  const said = new Set(tokens(answer));
  return stored.some((w) => said.has(w)) && !asked.some((w) => said.has(w));
}

/** The same content words in the same order of first use. */
export function sameContent(a: TextSignals, b: TextSignals): boolean {
  return [...a.content].join(' ') === [...b.content].join(' ');
}

function contentDiffers(q: TextSignals, c: TextSignals, rule: ContentRule): boolean {
  if (sameContent(q, c)) return false;
  return rule === 'exact' || sameSet(q.content, c.content); // 'order': only the same words, rearranged
}

/**
 * Default guards per embedder type, chosen on the dev pairs (docs/semantic-cache.md). The lexical embedder needs every
 * guard. For the sentence encoder the question and person guards refused 13% and 12% of true paraphrases ("How can
 * I ..." / "What is the way to ...") and the exact content rule all of them, so those two are off and the content
 * guard only refuses rearranged words. Titan and OpenAI-compatible embedders keep every guard: they could not be
 * measured offline.
 */
export function defaultGuards(embedderType: string): GuardSettings {
  if (embedderType !== 'sentence') return ALL_GUARDS;
  return { ...ALL_GUARDS, question: false, person: false, contentRule: 'order' };
}
