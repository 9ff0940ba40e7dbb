/** asl-validator 4 ships no types: the default export validates a definition. */
declare module 'asl-validator' {
  const aslValidator: (definition: unknown) => { isValid: boolean; errors: unknown[] };
  export default aslValidator;
}
