/**
 * The classifier provider interface and the default, rule-based provider:
 * weighted keyword rules per class, scored on the title and the start of
 * the text. Deterministic — the same text always gets the same class and
 * confidence — so re-ingesting a document never changes its class unless
 * the rules (and so the code version) changed.
 */
import { documentClasses, type DocumentClass } from '../../contracts/index.ts';

export interface ClassifierInput {
  documentId: string;
  title: string | null;
  contentType: string;
  text: string;
}

export interface ClassifierResult {
  label: DocumentClass;
  /** 0..1, two decimals. */
  confidence: number;
  /** Which classifier answered, e.g. `rules@1` or `openai-compatible:gpt-4o-mini`. */
  classifier: string;
  /** Scores or provider details for the lineage; never document text. */
  detail?: Record<string, unknown>;
}

export interface ClassifyContext {
  heartbeat(): void;
  signal: AbortSignal;
}

export interface Classifier {
  readonly name: string;
  classify(input: ClassifierInput, ctx: ClassifyContext): Promise<ClassifierResult>;
}

type Rule = readonly [pattern: RegExp, weight: number];

/** Bump when the rules change: it is part of the classifier name recorded with every classification. */
const rulesVersion = 1;

const rules: Record<Exclude<DocumentClass, 'other'>, readonly Rule[]> = {
  invoice: [
    [/\binvoice\b/g, 3],
    [/\binvoice (?:number|no\.?|#)/g, 3],
    [/\bamount due\b/g, 3],
    [/\btotal due\b/g, 3],
    [/\bbill(?:ed)? to\b/g, 2],
    [/\bdue date\b/g, 2],
    [/\bsubtotal\b/g, 2],
    [/\bpayment terms\b/g, 2],
    [/\bunit price\b/g, 2],
    [/\b(?:vat|sales tax)\b/g, 1],
    [/\bremit(?:tance)?\b/g, 1],
    [/\bpurchase order\b/g, 1],
  ],
  contract: [
    [/\bagreement\b/g, 2],
    [/\bthis agreement\b/g, 3],
    [/\bthe parties\b/g, 2],
    [/\bhereby\b/g, 2],
    [/\bwhereas\b/g, 2],
    [/\bgoverning law\b/g, 3],
    [/\bin witness whereof\b/g, 3],
    [/\bindemnif(?:y|ication)\b/g, 2],
    [/\btermination\b/g, 1],
    [/\beffective date\b/g, 1],
    [/\bterms and conditions\b/g, 1],
    [/\bshall\b/g, 1],
  ],
  report: [
    [/\breport\b/g, 2],
    [/\bexecutive summary\b/g, 3],
    [/\bfindings\b/g, 2],
    [/\brecommendations?\b/g, 2],
    [/\bmethodology\b/g, 2],
    [/\bkey metrics\b/g, 2],
    [/\banalysis\b/g, 1],
    [/\bconclusions?\b/g, 1],
    [/\bquarter(?:ly)?\b/g, 1],
    [/\bresults\b/g, 1],
    [/\brevenue\b/g, 1],
  ],
  filing: [
    [/\bform 10-[kq]\b/g, 4],
    [/\bform 8-k\b/g, 4],
    [/\bsecurities and exchange commission\b/g, 4],
    [/\bcommission file number\b/g, 3],
    [/\bregistrant\b/g, 3],
    [/\bpursuant to\b/g, 2],
    [/\bfiled (?:with|by)\b/g, 2],
    [/\bdocket\b/g, 2],
    [/\bplaintiff\b/g, 2],
    [/\bdefendant\b/g, 2],
    [/\bcourt\b/g, 1],
  ],
};

/** How much of the text the rules read: the start says what a document is. */
const scannedChars = 200_000;
/** Below this best score the document is `other`. */
const threshold = 4;

function score(text: string, ruleSet: readonly Rule[]): number {
  let total = 0;
  for (const [pattern, weight] of ruleSet) {
    // Repetition counts, but only up to three times per rule: one keyword spammed cannot decide alone.
    const hits = Math.min(3, text.match(pattern)?.length ?? 0);
    total += hits * weight;
  }
  return total;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Scores every class; exported for tests. */
export function classifyByRules(input: Pick<ClassifierInput, 'title' | 'text'>): Omit<ClassifierResult, 'classifier'> {
  const text = input.text.slice(0, scannedChars).toLowerCase();
  const title = (input.title ?? '').toLowerCase();
  const scores = Object.fromEntries(
    (Object.keys(rules) as (keyof typeof rules)[]).map((label) => [label, score(text, rules[label]) + 2 * score(title, rules[label])]),
  ) as Record<keyof typeof rules, number>;
  const ranked = (Object.entries(scores) as [keyof typeof rules, number][]).sort((a, b) => b[1] - a[1] || documentClasses.indexOf(a[0]) - documentClasses.indexOf(b[0]));
  const [bestLabel, best] = ranked[0]!;
  const total = ranked.reduce((sum, [, s]) => sum + s, 0);
  if (best < threshold) return { label: 'other', confidence: round2(1 - best / (2 * threshold)), detail: { scores } };
  // The +2 keeps one strong class with little evidence from claiming certainty.
  return { label: bestLabel, confidence: round2(Math.min(0.99, best / (total + 2))), detail: { scores } };
}

export const rulesClassifier: Classifier = {
  name: `rules@${rulesVersion}`,
  async classify(input) {
    return { ...classifyByRules(input), classifier: `rules@${rulesVersion}` };
  },
};
