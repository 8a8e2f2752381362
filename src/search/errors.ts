/**
 * The one error of the search library: the query cannot be parsed, is too
 * big, names an unknown field, or holds a value its field cannot take.
 * `position` is the 0-based offset in the query string (a JavaScript string
 * index, i.e. UTF-16 code units) of the token at fault, or the query's length
 * when the query ended too early. The Management API renders it as a 400.
 */
export class SearchSyntaxError extends Error {
  readonly code = 'invalid_query';

  constructor(
    /** What was expected or refused, without the position. */
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
    this.name = 'SearchSyntaxError';
  }
}
