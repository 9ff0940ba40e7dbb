/** Types of {@link ./expression-memo.mjs}: memoized expression parsing for dynalite. */

/** Counters of one memoized parser. */
export interface ParserMemoStats {
  /** Parses answered from a cached tree. */
  hits: number;
  /** Parses of a new shape (or one evicted since). */
  misses: number;
  /** Parses sent straight to the parser: value-sensitive expressions and calls without a context. */
  bypassed: number;
}

/**
 * Replaces `parser.parse` (a dynalite PEG parser module) by one that keeps parse trees per
 * expression shape: the text, the attribute names and the type of each attribute value.
 */
export function memoizeParser(parser: { parse: (...args: any[]) => unknown }, options?: { maxEntries?: number }): ParserMemoStats;
