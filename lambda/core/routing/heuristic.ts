import { messageText, type ChatRequest } from '../openai/types';
import { estimateTextTokens } from '../tokens';

/**
 * Routing v1: a transparent complexity score in [0, 1] from cheap prompt features. Each feature adds a bounded
 * weight, so the reason for a route can be read off the features that fired.
 */
export interface ComplexityScore {
  readonly score: number;
  /** Features that contributed, e.g. ['code', 'long']. */
  readonly features: readonly string[];
}

const CODE = /```|\b(def|function|class|import|return|const|let|var|public|static|SELECT|INSERT|UPDATE|#include|=>|lambda)\b|[{};]\s*$/m;
const MATH = /\b(solve|equation|integral|derivative|prove|theorem|probability|calculate|compute|how many|how much|percent|matrix|algebra)\b|\d+\s*[-+*/^=]\s*\d+|\\(frac|sum|int)\b/i;
const REASONING = /\b(step[- ]by[- ]step|explain why|why does|analy[sz]e|compare|contrast|trade-?offs?|evaluate|design|architect|plan|strategy|pros and cons|reason|justify|critique|debug|optimi[sz]e|refactor)\b/i;
const STRUCTURED = /\b(json|yaml|xml|csv|table|schema|format(ted)? as|bullet(ed)? list)\b/i;
const TRIVIAL = /^(hi|hello|hey|thanks|thank you|ok|okay|yes|no)\b[\s!.?]*$/i;

export function scoreComplexity(req: ChatRequest): ComplexityScore {
  const features: string[] = [];
  let lastUser = '';
  let userTurns = 0;
  for (const m of req.messages) {
    if (m.role === 'user') {
      userTurns++;
      lastUser = messageText(m.content);
    }
  }
  const tokens = estimateTextTokens(lastUser);
  let score = 0.1;
  if (TRIVIAL.test(lastUser.trim())) return { score: 0.02, features: ['trivial'] };
  if (tokens > 1500) {
    score += 0.25;
    features.push('very-long');
  } else if (tokens > 300) {
    score += 0.12;
    features.push('long');
  }
  if (CODE.test(lastUser)) {
    score += 0.22;
    features.push('code');
  }
  if (MATH.test(lastUser)) {
    score += 0.2;
    features.push('math');
  }
  const reasoningHits = lastUser.match(new RegExp(REASONING.source, 'gi'))?.length ?? 0;
  if (reasoningHits > 0) {
    score += Math.min(0.3, 0.15 * reasoningHits);
    features.push('reasoning');
  }
  if (STRUCTURED.test(lastUser) || req.response_format !== undefined || (req.tools && req.tools.length > 0)) {
    score += 0.1;
    features.push('structured');
  }
  if (userTurns >= 4) {
    score += 0.08;
    features.push('deep-conversation');
  }
  return { score: Math.min(1, Math.round(score * 1000) / 1000), features };
}
