/**
 * Memoized expression parsing for dynalite. dynalite parses every ConditionExpression,
 * UpdateExpression and ProjectionExpression with a PEG parser on every request; a long
 * condition (Powertools idempotency's is five clauses) costs more than the write it guards.
 * Applications send the same few expressions over and over with different values, so the
 * parse tree is kept per expression *shape*: the text, the attribute names, and the type of
 * each attribute value. A request with a known shape gets a copy of the tree with its own
 * values put in, and the same bookkeeping a parse would have done (the used names and values
 * leave the context's "unused" sets, so unused-value errors still fire).
 *
 * The trees are the parser's own, so results are identical by construction, except where the
 * grammar validates *values* rather than types: BETWEEN (lower ≤ upper) and attribute_type
 * (a known type name). Expressions using either, and every parse that ends in an error, go
 * to the parser each time.
 *
 * Plain JavaScript: it runs in the dynalite worker, which loads without the TypeScript loader.
 */

/** Marks a stand-in for an attribute value in a cached tree. */
const VALUE = Symbol('expressionAttributeValue');

/** Grammar rules that look at attribute values, not only at their types. */
const VALUE_SENSITIVE = /\bbetween\b|\battribute_type\b/i;

/** The AttributeValue type keys, in dynalite's order. */
const TYPE_KEYS = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'];

function typeOf(value) {
  if (!value || typeof value !== 'object') return '?';
  let sig = '';
  for (const k of TYPE_KEYS) if (value[k] != null) sig += `${k},`;
  return sig;
}

/** Copies `node`, replacing every stand-in by the request's own value of that name. */
function instantiate(node, values) {
  if (node === null || typeof node !== 'object') return node;
  const name = node[VALUE];
  if (name !== undefined) return values[name];
  if (Array.isArray(node)) return node.map((n) => instantiate(n, values));
  const out = Object.create(Object.getPrototypeOf(node));
  for (const k of Object.keys(node)) out[k] = instantiate(node[k], values);
  return out;
}

/**
 * Replaces `parser.parse` (a module exporting a PEG `parse(text, { context })`) by a
 * memoizing one. Returns counters, for tests.
 * @param {{ parse: (text: string, options: { context: any }) => unknown }} parser
 * @param {{ maxEntries?: number }} [options]
 */
export function memoizeParser(parser, options = {}) {
  const parse = parser.parse;
  const maxEntries = options.maxEntries ?? 2_000;
  /** @type {Map<string, { tree: unknown; names: string[]; values: string[] }>} */
  const cache = new Map();
  const stats = { hits: 0, misses: 0, bypassed: 0 };

  parser.parse = function memoizedParse(text, opts) {
    const context = opts && opts.context;
    if (typeof text !== 'string' || !context || VALUE_SENSITIVE.test(text)) {
      stats.bypassed += 1;
      return parse.call(this, text, opts);
    }
    const names = context.attrNames || {};
    const values = context.attrVals || {};
    let key = `${text}\u0000`;
    for (const n of Object.keys(names).sort()) key += `${n}=${names[n]}\u0001`;
    key += '\u0000';
    for (const v of Object.keys(values).sort()) key += `${v}:${typeOf(values[v])}\u0001`;

    let entry = cache.get(key);
    if (!entry) {
      stats.misses += 1;
      // Parse against stand-ins of the same types, and see which names and values it used.
      const standIns = {};
      for (const v of Object.keys(values)) standIns[v] = { ...values[v], [VALUE]: v };
      const unusedNames = Object.fromEntries(Object.keys(names).map((n) => [n, true]));
      const unusedValues = Object.fromEntries(Object.keys(values).map((v) => [v, true]));
      let tree;
      try {
        tree = parse.call(this, text, { ...opts, context: { ...context, attrVals: context.attrVals ? standIns : context.attrVals, unusedAttrNames: unusedNames, unusedAttrVals: unusedValues } });
      } catch {
        tree = undefined;
      }
      // Errors (a string, or a thrown SyntaxError) are rare: the parser reports them itself.
      if (!tree || typeof tree !== 'object') return parse.call(this, text, opts);
      entry = {
        tree,
        names: Object.keys(names).filter((n) => !(n in unusedNames)),
        values: Object.keys(values).filter((v) => !(v in unusedValues)),
      };
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value);
      cache.set(key, entry);
    } else {
      stats.hits += 1;
    }
    if (context.unusedAttrNames) for (const n of entry.names) delete context.unusedAttrNames[n];
    if (context.unusedAttrVals) for (const v of entry.values) delete context.unusedAttrVals[v];
    return instantiate(entry.tree, values);
  };
  return stats;
}
