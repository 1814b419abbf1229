package store

import (
	"encoding/binary"
	"hash/fnv"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/flintcti/flint/internal/intel"
)

// digest fingerprints one source's view of an object: every field it
// carries, hashed directly (this runs for every item of every page).
func digest(o *intel.Object) int64 {
	h := fnv.New64a()
	var buf [8]byte
	str := func(v string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(v)))
		h.Write(buf[:])
		h.Write([]byte(v))
	}
	num := func(v int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			num(0)
		} else {
			num(t.UnixNano())
		}
	}
	opt := func(p *int) {
		if p == nil {
			num(-1 << 62)
		} else {
			num(int64(*p))
		}
	}
	str(string(o.Type))
	str(o.Value)
	str(o.Name)
	str(o.Description)
	str(string(o.TLP))
	num(int64(o.Confidence))
	opt(o.Relevance)
	opt(o.Severity)
	str(string(o.Score))
	num(int64(len(o.Tags)))
	for _, t := range o.Tags {
		str(t)
	}
	for _, t := range []time.Time{o.FirstSeen, o.LastSeen, o.ValidFrom, o.ValidUntil, o.Reported} {
		tm(t)
	}
	str(o.OriginalID)
	if !emptyDetails(&o.Details) {
		b, err := marshal(&o.Details) // map keys marshal sorted: stable
		if err != nil {
			return 0
		}
		h.Write(b)
	}
	return int64(h.Sum64())
}

// marshal encodes what the writer stores as JSON (tags, details) exactly as
// encoding/json would (sorted map keys, HTML escaped, RawMessage compacted),
// with go-json, about twice as fast on this, the writer's path; a
// differential test and fuzz target (FuzzMarshalMatchesStdlib) hold it to
// encoding/json's bytes.
func marshal(v any) ([]byte, error) { return gojson.Marshal(v) }

// emptyDetails reports whether d has nothing to store.
func emptyDetails(d *intel.Details) bool {
	return len(d.Hashes) == 0 && len(d.Config) == 0 && len(d.AttackPatterns) == 0 && len(d.MalwareNames) == 0 &&
		len(d.ActorNames) == 0 && d.PlatformURL == "" && len(d.FullTags) == 0 && d.MalwareDescription == "" &&
		d.ActorDescription == "" && len(d.References) == 0 && len(d.RelatedIOCs) == 0 && d.Sightings == nil &&
		d.LastScoredAt.IsZero() && d.Href == "" && len(d.Tactics) == 0 &&
		d.Vulnerability == nil && d.Report == nil && d.Software == nil
}
