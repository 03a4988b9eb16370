/**
 * Templated FAQ pairs: a support bot's questions are mostly templates whose slot is the object asked about ("How do
 * I change my {invoices|returns|...} settings?"). Two questions that differ only in the slot must never be served each
 * other's answer; a rewording that keeps the slot should hit. Used by `npm run bench:cache-templates` (the default
 * config measured on them) and shipped with `llm-finops cache calibrate` as its hard negatives (the paraphrase pairs
 * shipped beside them are all duplicates). Generated, not copied from any data set.
 */
import type { LabelledPair } from './evaluate';

/** Each template with a rewording of it: the same question in other words. `{}` is the slot. */
export const FAQ_TEMPLATES: readonly (readonly [string, string])[] = [
  ['How do I change my {} settings?', 'How can I change the settings for my {}?'],
  ['Where can I see my {}?', 'Where do I find my {}?'],
  ['Why was my {} declined?', 'What is the reason my {} was declined?'],
  ['Can I cancel my {}?', 'Is it possible to cancel my {}?'],
  ['How long does {} take?', 'How much time does {} take?'],
  ['Who do I contact about {}?', 'Who should I contact about {}?'],
  ['Is there a fee for {}?', 'Do you charge a fee for {}?'],
  ['How do I update the {} on my account?', 'How can I update the {} on my account?'],
];

export const FAQ_SLOTS: readonly string[] = ['invoices', 'returns', 'shipping', 'payment', 'subscription', 'password', 'address', 'notification', 'refund', 'order'];

/** The answer cached for a question about `slot`: it names its subject (settings, page, team), as FAQ answers do. */
export function faqAnswer(slot: string): string {
  return `Open Account > ${slot[0]?.toUpperCase() ?? ''}${slot.slice(1)}: everything about your ${slot} is there, and our ${slot} team can help.`;
}

/**
 * Per template and slot: the rewording with the same slot (a duplicate), and the template with every other slot (not
 * duplicates): 80 duplicates and 720 non-duplicates with the lists above. With `answers`, each pair carries the
 * answer cached for `a` (faqAnswer), so the answer-slot check runs as the gateway's does.
 */
export function templatedPairs(opts: { answers?: boolean; templates?: typeof FAQ_TEMPLATES; slots?: readonly string[] } = {}): LabelledPair[] {
  const { templates = FAQ_TEMPLATES, slots = FAQ_SLOTS } = opts;
  const pairs: LabelledPair[] = [];
  for (const [t, rewording] of templates) {
    for (const a of slots) {
      const answer = opts.answers ? { answer: faqAnswer(a) } : {};
      pairs.push({ a: t.replace('{}', a), b: rewording.replace('{}', a), duplicate: true, ...answer });
      for (const b of slots) if (a !== b) pairs.push({ a: t.replace('{}', a), b: t.replace('{}', b), duplicate: false, ...answer });
    }
  }
  return pairs;
}
