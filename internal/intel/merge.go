package intel

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// TLPPolicy chooses how an object's effective TLP follows from its sources'.
type TLPPolicy int

// TLP policies. MostRestrictiveTLP is the default and the safe choice.
const (
	MostRestrictiveTLP TLPPolicy = iota
	LeastRestrictiveTLP
)

// Merge folds one source's view of an object into the stored object.
//
// cur is the stored object with its Sources (nil when the object is new); in
// is the incoming view, whose TLP, Confidence, ValidUntil, OriginalID and
// Reported are the source's terms; src names the source (ChannelID, Instance,
// Channel). Merge returns the merged object (with Sources updated) and
// whether the stored object or this source's provenance changed.
//
// The rules (docs/domain.md §6): validity is the longest across sources, so a
// newer report revives a deprecated object; the effective TLP is the most
// restrictive of the sources' (or the least, by policy); confidence is the
// highest; tags, hashes, names and product versions are unions; first seen
// and valid_from take the earliest, last seen the latest; the other details
// come from the most recent report.
func Merge(cur *Object, inp *Object, src Provenance, policy TLPPolicy) (Object, bool) {
	in := truncated(inp)
	prov := Provenance{
		ChannelID: src.ChannelID, Instance: src.Instance, Channel: src.Channel,
		OriginalID: in.OriginalID, FirstReported: in.Reported, LastReported: in.Reported,
		TLP: in.TLP, Confidence: in.Confidence, ValidUntil: in.ValidUntil,
	}
	if cur == nil {
		out := *in
		out.ID = 0
		out.Tags = uniqueSorted(in.Tags)
		out.Details = normaliseDetails(in.Details)
		out.Sources = []Provenance{prov}
		out.TLP, out.Confidence, out.ValidUntil = effective(out.Sources, policy)
		return out, true
	}

	out := *cur
	out.Sources = slices.Clone(cur.Sources)
	newest := latestReport(cur.Sources)
	provChanged := true
	if i := slices.IndexFunc(out.Sources, func(p Provenance) bool { return p.ChannelID == src.ChannelID }); i >= 0 {
		old := out.Sources[i]
		prov.FirstReported = minTime(old.FirstReported, prov.FirstReported)
		prov.LastReported = maxTime(old.LastReported, prov.LastReported)
		if in.Reported.Before(old.LastReported) { // an older re-read keeps the newer terms
			prov.TLP, prov.Confidence, prov.ValidUntil, prov.OriginalID = old.TLP, old.Confidence, old.ValidUntil, old.OriginalID
		}
		prov.ValidUntil = maxTime(prov.ValidUntil, old.ValidUntil)
		provChanged = !provEqual(old, prov)
		out.Sources[i] = prov
	} else {
		out.Sources = append(out.Sources, prov)
	}
	slices.SortFunc(out.Sources, func(a, b Provenance) int { return cmp.Compare(a.ChannelID, b.ChannelID) })

	if !in.Reported.Before(newest) { // the most recent report's details win
		out.Name = firstNonEmpty(in.Name, cur.Name)
		out.Description = firstNonEmpty(in.Description, cur.Description)
		if in.Score != ScoreNone {
			out.Score = in.Score
		}
		if in.Relevance != nil {
			out.Relevance = in.Relevance
		}
		if in.Severity != nil {
			out.Severity = in.Severity
		}
		out.Details = mergeDetails(in.Details, cur.Details)
	} else {
		out.Details = mergeDetails(cur.Details, in.Details)
	}
	out.Tags = uniqueSorted(append(slices.Clone(cur.Tags), in.Tags...))
	out.FirstSeen = minTime(cur.FirstSeen, in.FirstSeen)
	out.LastSeen = maxTime(cur.LastSeen, in.LastSeen)
	out.ValidFrom = minTime(cur.ValidFrom, in.ValidFrom)
	out.TLP, out.Confidence, out.ValidUntil = effective(out.Sources, policy)
	return out, provChanged || !SameStored(cur, &out)
}

// truncated returns a copy of o whose times are in UTC at the microsecond
// precision the store keeps, so that re-reading an item compares equal.
func truncated(o *Object) *Object {
	if exact(o.FirstSeen) && exact(o.LastSeen) && exact(o.ValidFrom) && exact(o.ValidUntil) && exact(o.Reported) {
		return o // the common case: nothing to change, nothing to copy
	}
	c := *o
	for _, t := range []*time.Time{&c.FirstSeen, &c.LastSeen, &c.ValidFrom, &c.ValidUntil, &c.Reported} {
		*t = TruncTime(*t)
	}
	return &c
}

// exact reports whether t is already as the store keeps it.
func exact(t time.Time) bool {
	return t.IsZero() || (t.Location() == time.UTC && t.Nanosecond()%1000 == 0)
}

// TruncTime returns t in UTC, truncated to microseconds; the zero time stays zero.
func TruncTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// effective derives the object's terms from its sources.
func effective(ps []Provenance, policy TLPPolicy) (TLP, int, time.Time) {
	tlps := make([]TLP, 0, len(ps))
	conf := 0
	var until time.Time
	for _, p := range ps {
		tlps = append(tlps, p.TLP)
		conf = max(conf, p.Confidence)
		until = maxTime(until, p.ValidUntil)
	}
	if policy == LeastRestrictiveTLP {
		return LeastRestrictive(tlps...), conf, until
	}
	return MostRestrictive(tlps...), conf, until
}

func latestReport(ps []Provenance) time.Time {
	var t time.Time
	for _, p := range ps {
		t = maxTime(t, p.LastReported)
	}
	return t
}

// mergeDetails takes primary's details and adds secondary's set-like parts.
func mergeDetails(primary, secondary Details) Details {
	out := primary
	if len(secondary.Hashes) > 0 {
		out.Hashes = make(map[HashAlgo]string, len(primary.Hashes)+len(secondary.Hashes))
		for k, v := range secondary.Hashes {
			out.Hashes[k] = v
		}
		for k, v := range primary.Hashes {
			out.Hashes[k] = v
		}
	}
	if out.Config == nil {
		out.Config = secondary.Config
	}
	out.PlatformURL = firstNonEmpty(primary.PlatformURL, secondary.PlatformURL)
	out.AttackPatterns = uniqueSorted(append(slices.Clone(primary.AttackPatterns), secondary.AttackPatterns...))
	out.MalwareNames = uniqueSorted(append(slices.Clone(primary.MalwareNames), secondary.MalwareNames...))
	out.ActorNames = uniqueSorted(append(slices.Clone(primary.ActorNames), secondary.ActorNames...))
	out.Tactics = uniqueSorted(append(slices.Clone(primary.Tactics), secondary.Tactics...))
	out.MalwareDescription = firstNonEmpty(primary.MalwareDescription, secondary.MalwareDescription)
	out.ActorDescription = firstNonEmpty(primary.ActorDescription, secondary.ActorDescription)
	out.Href = firstNonEmpty(primary.Href, secondary.Href)
	if out.References == nil {
		out.References = secondary.References
	}
	if out.RelatedIOCs == nil {
		out.RelatedIOCs = secondary.RelatedIOCs
	}
	if out.Sightings == nil {
		out.Sightings = secondary.Sightings
	}
	if out.LastScoredAt.IsZero() {
		out.LastScoredAt = secondary.LastScoredAt
	}
	switch {
	case out.Vulnerability == nil:
		out.Vulnerability = secondary.Vulnerability
	case secondary.Vulnerability != nil:
		v := *out.Vulnerability
		v.FlashpointIDs = append(slices.Clone(v.FlashpointIDs), secondary.Vulnerability.FlashpointIDs...)
		out.Vulnerability = &v
	}
	if out.Report == nil {
		out.Report = secondary.Report
	}
	switch {
	case primary.Software != nil && secondary.Software != nil:
		s := *primary.Software
		s.Versions = uniqueSorted(append(slices.Clone(s.Versions), secondary.Software.Versions...))
		s.CPEs = uniqueSorted(append(slices.Clone(s.CPEs), secondary.Software.CPEs...))
		out.Software = &s
	case primary.Software == nil:
		out.Software = secondary.Software
	}
	return normaliseDetails(out)
}

func normaliseDetails(d Details) Details {
	d.AttackPatterns = uniqueSorted(d.AttackPatterns)
	d.MalwareNames = uniqueSorted(d.MalwareNames)
	d.ActorNames = uniqueSorted(d.ActorNames)
	d.Tactics = uniqueSorted(d.Tactics)
	if d.Vulnerability != nil && len(d.Vulnerability.FlashpointIDs) > 0 {
		v := *d.Vulnerability
		v.FlashpointIDs = slices.Compact(slices.Sorted(slices.Values(v.FlashpointIDs)))
		d.Vulnerability = &v
	}
	if d.Software != nil {
		s := *d.Software
		s.Versions = uniqueSorted(s.Versions)
		s.CPEs = uniqueSorted(s.CPEs)
		d.Software = &s
	}
	if len(d.Hashes) == 0 {
		d.Hashes = nil
	}
	return d
}

// SameStored reports whether a and b agree on everything the store keeps in
// the object row (not their sources).
func SameStored(a, b *Object) bool {
	if a.Type != b.Type || a.Value != b.Value || a.Name != b.Name || a.Description != b.Description ||
		a.TLP != b.TLP || a.Confidence != b.Confidence || a.Score != b.Score ||
		!intPtrEqual(a.Relevance, b.Relevance) || !intPtrEqual(a.Severity, b.Severity) ||
		!slices.Equal(a.Tags, b.Tags) ||
		!a.FirstSeen.Equal(b.FirstSeen) || !a.LastSeen.Equal(b.LastSeen) ||
		!a.ValidFrom.Equal(b.ValidFrom) || !a.ValidUntil.Equal(b.ValidUntil) {
		return false
	}
	da, err1 := json.Marshal(a.Details)
	db, err2 := json.Marshal(b.Details)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

func provEqual(a, b Provenance) bool {
	return a.ChannelID == b.ChannelID && a.Instance == b.Instance && a.Channel == b.Channel &&
		a.OriginalID == b.OriginalID && a.TLP == b.TLP && a.Confidence == b.Confidence &&
		a.FirstReported.Equal(b.FirstReported) && a.LastReported.Equal(b.LastReported) &&
		a.ValidUntil.Equal(b.ValidUntil)
}

func uniqueSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func intPtrEqual(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func minTime(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
