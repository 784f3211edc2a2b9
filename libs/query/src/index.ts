// @myelin/query: the run query language (`?query=`, `?sort=`) parsed into a tree and compiled to
// PostgreSQL with bound parameters against a caller-supplied field resolver. See README.md.
export * from './ast';
export * from './errors';
export { parseQuery, parseSort, type ParseOptions } from './parser';
export { printQuery, printSort, printField, printValue } from './printer';
export { readNumber, readBoolean, readTimestamp, type TimeInterval } from './literals';
export * from './resolver';
export * from './compiler';
