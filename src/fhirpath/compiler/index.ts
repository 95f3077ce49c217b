// The FHIRPath compiler's public face: compileFhirPath and the error that sends an expression to fhirpath.js.
export { compileFhirPath, type CompileOptions, type CompiledFhirPath } from './compile';
export { UnsupportedFhirPath } from './ast';
export type { FunctionTable } from './invocation';
