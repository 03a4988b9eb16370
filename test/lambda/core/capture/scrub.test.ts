import { scrub, scrubJson, type PiiKind } from '../../../../lambda/core/capture/scrub';

/**
 * A planted corpus: support-ticket and extraction prompts of the kind a captured feature sends, each carrying one
 * PII item or secret in a realistic sentence, many formats of each kind. Every planted value must be gone after
 * scrubbing, and replaced by its kind's placeholder; text with no PII must come back unchanged.
 */

// Deterministic variety without a random source.
const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length];

/** A Luhn-valid card number from a 15-digit prefix. */
function card(prefix15: string): string {
  const digits = prefix15.split('').map(Number);
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i];
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return prefix15 + String((10 - (sum % 10)) % 10);
}

/** A valid IBAN for a country and its basic bank account number (check digits computed). */
function iban(country: string, bban: string): string {
  const moved = `${bban}${country}00`.split('').map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');
  let rest = 0;
  for (const ch of moved) rest = (rest * 10 + Number(ch)) % 97;
  return `${country}${String(98 - rest).padStart(2, '0')}${bban}`;
}

const FIRST = ['Priya', 'John', 'Mei', 'Oluwaseun', 'Anna', 'Carlos', 'Fatima', "O'Neil", 'Jean-Luc', 'Hiroshi'];
const LAST = ['Patel', 'Smith', 'Chen', 'Adeyemi', 'Kowalska', 'Garcia', 'Haddad', 'Murphy', 'Picard', 'Tanaka'];

interface Planted { readonly kind: PiiKind; readonly value: string; readonly text: string }

function corpus(): Planted[] {
  const out: Planted[] = [];
  const add = (kind: PiiKind, value: string, text: string) => out.push({ kind, value, text });
  for (let i = 0; i < 30; i++) {
    const email = `${pick(FIRST, i).toLowerCase().replace(/[^a-z]/g, '')}.${pick(LAST, i + 3).toLowerCase()}${i}@${pick(['example.com', 'corp.example.co.uk', 'mail.example.org'], i)}`;
    add('EMAIL', email, pick([`Please reply to ${email} with the invoice.`, `Contact: ${email}`, `My address is <${email}>, thanks`], i));
  }
  const phones = ['+44 20 7946 0958', '+1 415 555 0132', '(212) 555-0199', '555-867-5309', '555.123.4567', '+49 30 901820', '+33 1 70 36 39 50', '020 7946 0321', '+81 3-1234-5678', '+1-202-555-0147'];
  for (let i = 0; i < 30; i++) {
    const p = pick(phones, i);
    add('PHONE', p, pick([`Call me back on ${p} after 5pm.`, `Phone: ${p}`, `The customer's number is ${p}; they asked for a refund.`], i));
  }
  const cardPrefixes = ['411111111111111', '555555555555444', '378282246310005'.slice(0, 15), '601111111111111', '353011133330000'];
  for (let i = 0; i < 25; i++) {
    const raw = card(pick(cardPrefixes, i).slice(0, 12) + String(100 + i).slice(0, 3));
    const v = pick([raw, raw.replace(/(\d{4})(?=\d)/g, '$1 '), raw.replace(/(\d{4})(?=\d)/g, '$1-')], i);
    add('CARD', v, pick([`I was charged twice on card ${v}.`, `Card number: ${v}, expiry 09/28`, `Refund to ${v} please`], i));
  }
  const secrets = (i: number) => [
    `sk-proj-${'A1b2C3d4E5f6G7h8'.repeat(2)}${i}`, `sk-ant-api03-${'x9Y8z7W6v5U4t3S2'.repeat(2)}${i}`, `AKIA${'IOSFODNN7EXAMPLE'.slice(0, 15)}${i % 10}`,
    `ghp_${'abcdefghijklmnopqrstuvwxyz0123456789'.slice(0, 34)}${i % 10}`, `xoxb-1234567890-${'abcdefABCDEF'}${i}`, `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}${i}`,
    `AIza${'SyA1234567890abcdefghijklmnopqrstu'}${i % 10}`, `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn${i}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`,
  ];
  for (let i = 0; i < 40; i++) {
    const s = pick(secrets(i), i);
    add('SECRET', s, pick([`Here is my key ${s} - why does it fail?`, `export OPENAI_API_KEY=${s}`, `curl -H "x-api-key: ${s}" https://api.example.com`], i));
  }
  const labelled = ['hunter2hunter2', 'Tr0ub4dor&3xyz', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'p@ssw0rd!2026', 'c0rrect-h0rse-battery'];
  for (let i = 0; i < 20; i++) {
    const v = pick(labelled, i) + i;
    add('SECRET', v, pick([`password: ${v}`, `aws_secret_access_key = ${v}`, `my token=${v} stopped working`, `Authorization: Bearer ${v}`, `client_secret: "${v}"`], i));
  }
  add('PRIVATE_KEY', '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----',
    'The deploy fails with this key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----\nWhat is wrong?');
  const ibans = [['GB', 'WEST12345698765432'], ['DE', '370400440532013000'], ['FR', '20041010050500013M02606'], ['NL', 'ABNA0417164300'], ['ES', '21000418450200051332']];
  for (let i = 0; i < 10; i++) {
    const [c, b] = pick(ibans, i);
    const v = iban(c, b);
    add('IBAN', v, pick([`Pay the refund into ${v}.`, `IBAN: ${v}`], i));
  }
  for (let i = 0; i < 10; i++) {
    const v = `${100 + i * 7}-${10 + i}-${1000 + i * 13}`;
    add('SSN', v, `My SSN is ${v} for the tax form.`);
  }
  for (let i = 0; i < 10; i++) {
    const v = `${10 + i}.${20 + i * 3}.${i * 11}.${200 + i}`;
    add('IP', v, `Requests from ${v} are blocked.`);
  }
  for (let i = 0; i < 30; i++) {
    const full = `${pick(FIRST, i)} ${pick(LAST, i + 1)}`;
    const first = pick(FIRST, i + 2);
    const t = i % 6;
    if (t === 0) add('NAME', full, `Hello, my name is ${full} and my order never arrived.`);
    else if (t === 1) add('NAME', full, `Name: ${full}\nOrder: 5531`);
    else if (t === 2) add('NAME', first, `Dear ${first},\nthank you for your message.`);
    else if (t === 3) add('NAME', pick(LAST, i), `Please pass this to Dr. ${pick(LAST, i)} today.`);
    else if (t === 4) add('NAME', full, `The printer is broken again.\n\nKind regards,\n${full}`);
    else add('NAME', full, `Hi, I'm ${full}, I need to change my plan.`);
  }
  return out;
}

describe('the capture scrubber', () => {
  const planted = corpus();

  it('removes every planted PII item and secret (at least 200), each replaced by its kind', () => {
    expect(planted.length).toBeGreaterThanOrEqual(200);
    const missed: string[] = [];
    const wrongKind: string[] = [];
    for (const p of planted) {
      const { text, found } = scrub(p.text);
      if (text.includes(p.value)) missed.push(`${p.kind}: ${JSON.stringify(p.text)} -> ${JSON.stringify(text)}`);
      if (!found[p.kind]) wrongKind.push(`${p.kind}: ${JSON.stringify(p.text)} -> ${JSON.stringify(text)} ${JSON.stringify(found)}`);
    }
    expect(missed).toEqual([]);
    expect(wrongKind).toEqual([]);
    // Counted by kind: what a capture run reports.
    const byKind = new Map<PiiKind, number>();
    for (const p of planted) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
    expect(Object.fromEntries(byKind)).toEqual({ EMAIL: 30, PHONE: 30, CARD: 25, SECRET: 60, PRIVATE_KEY: 1, IBAN: 10, SSN: 10, IP: 10, NAME: 30 });
  });

  it('leaves text without PII as it is: order numbers, dates, versions, prices, times, a number that fails Luhn', () => {
    for (const clean of [
      'Order 5531 shipped on 2026-12-07 at 14:30.',
      'Upgrade from v1.2.3 to 2.0.0 costs $1,299.99 per year.',
      'The build took 1234 ms; error code 0x80070005.',
      'Ticket #48213: the app crashes on iOS 18.2.',
      'Card ending 4242 was declined.',
      'Reference 4111 1111 1111 1112 is not a card.',
      'Use model gpt-4o-mini with max_tokens 256.',
      'The meeting is in Room 3B with the Sales team.',
    ]) {
      expect(scrub(clean)).toEqual({ text: clean, found: {} });
    }
  });

  it('scrubs every string of a chat exchange, keys kept, and counts across them', () => {
    const exchange = {
      messages: [
        { role: 'system', content: 'You classify tickets.' },
        { role: 'user', content: [{ type: 'text', text: 'Email me at ana@example.com or call +1 415 555 0132.' }] },
        { role: 'assistant', content: 'billing', tool_calls: [{ function: { name: 'lookup', arguments: '{"card":"4111 1111 1111 1111"}' } }] },
      ],
    };
    const { value, found } = scrubJson(exchange);
    expect(JSON.stringify(value)).not.toMatch(/ana@example|415 555|4111 1111/);
    expect(value.messages[1]).toEqual({ role: 'user', content: [{ type: 'text', text: 'Email me at [EMAIL] or call [PHONE].' }] });
    expect(found).toEqual({ EMAIL: 1, PHONE: 1, CARD: 1 });
  });
});
