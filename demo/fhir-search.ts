// Moved to src/fhir/search.ts (the offline CLI needs it at runtime); kept so bench/ imports keep working.
export * from '../src/fhir/search';
