// Package intel is Flint's domain: the kinds of intelligence it keeps
// (indicators, vulnerabilities, reports, software, malware, threat actors,
// attack patterns), how they relate, where they came from (provenance), the
// terms they were shared under (TLP 2.0, confidence, custom scores) and how
// long they stay valid.
//
// One Object exists per (Type, normalised Value) however many sources report
// it. Each source's view is kept as a Provenance; the object's effective TLP,
// confidence and validity are derived from them by the rules in Merge.
//
// The package imports nothing else of Flint's.
package intel
