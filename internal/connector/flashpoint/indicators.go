package flashpoint

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

// maxEmbedPage is the largest page the API serves with embed
// (docs/flashpoint-api.md §6.1).
const maxEmbedPage = 500

var indicatorTypes = map[string]intel.Type{
	"ipv4": intel.IPv4, "ipv6": intel.IPv6, "domain": intel.Domain, "url": intel.URL,
	"file": intel.File, "extracted_config": intel.ExtractedConfig,
}

// Indicators are read window by window (window.go). The order asked for is
// documented, but never relied on.
func (p *Poll) nextIndicators(ctx context.Context) (*Batch, error) {
	p.openWindow()
	f := &p.settings.Filters
	// The bound a second past Until holds an item modified at Until
	// whatever precision the server keeps.
	// embed=all brings MITRE ATT&CK techniques, descriptions, external
	// references and related IOCs; the API then answers at most 500 a page.
	q := ignite.IndicatorQuery{Size: min(p.c.size(), maxEmbedPage), Sort: "modified_at:asc", ModifiedAfter: p.cur.Since,
		ModifiedBefore: p.cur.Until.Add(time.Second), IOCTypes: f.IndicatorTypes, Embed: []string{"all"}}
	if f.MinScore != intel.ScoreNone {
		q.MinScore = string(f.MinScore)
	}
	idOf := func(it *ignite.Indicator) string { return it.ID }
	page, err := windowPage(p, idOf, func(from int) (*ignite.Page[ignite.Indicator], error) {
		q.From = from
		return p.c.Client.ListIndicators(ctx, q)
	})
	if err != nil {
		return nil, err
	}
	b := p.indicatorBatch(page)
	windowAdvance(p, page, q.Size, idOf)
	b.Cursor = p.cur.String()
	return b, nil
}

// indicatorBatch maps a page of indicators, leaving out those read already
// in this window.
func (p *Poll) indicatorBatch(page *ignite.Page[ignite.Indicator]) *Batch {
	b := &Batch{Counts: feed.Counts{Listed: page.Count(), Invalid: len(page.Invalid)}, Objects: make([]intel.Object, 0, len(page.Items)), Remaining: remaining(page)}
	techniques := map[string]bool{} // attack patterns of the page
	for i := range page.Items {
		it := &page.Items[i]
		if !p.seen.firstString(it.ID) {
			continue
		}
		o, ok := p.mapIndicator(it)
		switch {
		case !ok:
			b.Counts.Invalid++
		case !p.keepIndicator(it):
			b.Counts.Filtered++
		default:
			b.Objects = append(b.Objects, o)
			p.indicatorRelations(it, &o, b, techniques)
		}
	}
	return b
}

func (p *Poll) keepIndicator(it *ignite.Indicator) bool {
	f := &p.settings.Filters
	if len(f.IndicatorTypes) > 0 && !slices.ContainsFunc(f.IndicatorTypes, func(t string) bool { return strings.EqualFold(t, it.Type) }) {
		return false
	}
	return f.MinScore == intel.ScoreNone || feed.ScoreRank(intel.Score(strings.ToLower(it.Score.Value))) >= feed.ScoreRank(f.MinScore)
}

// mapIndicator maps one indicators v2 item (docs/domain.md §5): tags from its
// sightings, the Flashpoint score, first and last seen, hashes, MITRE ids.
func (p *Poll) mapIndicator(it *ignite.Indicator) (intel.Object, bool) {
	t, ok := indicatorTypes[strings.ToLower(it.Type)]
	if !ok {
		return intel.Object{}, false
	}
	value, err := indicator.Normalize(t, it.Value)
	if err != nil {
		p.c.log().Debug("flashpoint: indicator value refused", "id", it.ID, "type", it.Type, "error", err)
		return intel.Object{}, false
	}
	reported := it.ModifiedAt.Time
	if reported.IsZero() {
		reported = it.LastSeenAt.Time
	}
	o := p.base(t, value, reported, it.Tags())
	o.OriginalID = it.ID
	o.FirstSeen, o.LastSeen = it.CreatedAt.Time.UTC(), it.LastSeenAt.Time.UTC()
	if score, err := intel.ParseScore(it.Score.Value); err == nil {
		o.Score = score
	}
	if h := it.Hashes; h != nil {
		o.Hashes = map[intel.HashAlgo]string{}
		for algo, v := range map[intel.HashAlgo]*string{intel.MD5: h.MD5, intel.SHA1: h.SHA1, intel.SHA256: h.SHA256, intel.SHA512: h.SHA512} {
			if v != nil {
				if hv, err := indicator.Normalize(intel.File, *v); err == nil {
					o.Hashes[algo] = hv
				}
			}
		}
	}
	if t == intel.ExtractedConfig {
		o.Config = json.RawMessage(value)
	}
	for _, m := range it.MitreAttackIDs {
		if m.ID != "" {
			o.AttackPatterns = append(o.AttackPatterns, strings.ToUpper(strings.TrimSpace(m.ID)))
		}
	}
	o.MalwareDescription = described(it.MalwareDescription)
	o.ActorDescription = described(it.APTDescription)
	for _, r := range it.ExternalReferences {
		if r.SourceName != "" || r.URL != "" {
			o.References = append(o.References, intel.Reference{Name: r.SourceName, URL: r.URL})
		}
	}
	o.RelatedIOCs = relatedIOCs(it)
	if n := it.TotalSightings.V; n > 0 || len(it.Sightings) > 0 {
		si := &intel.SightingInfo{Count: max(int(n), len(it.Sightings))}
		for _, sg := range append(slices.Clone(it.Sightings), latest(it)...) {
			if t := sg.SightedAt.Time; !t.IsZero() {
				if si.First.IsZero() || t.Before(si.First) {
					si.First = t.UTC()
				}
				if t.After(si.Last) {
					si.Last = t.UTC()
				}
			}
		}
		o.Sightings = si
	}
	if t := it.Score.LastScoredAt.Time; !t.IsZero() {
		o.LastScoredAt = t.UTC()
	}
	o.Href = it.Href
	for _, tag := range o.Tags {
		if name, ok := strings.CutPrefix(tag, "malware:"); ok {
			o.MalwareNames = append(o.MalwareNames, name)
		}
		if name, ok := strings.CutPrefix(tag, "actor:"); ok {
			o.ActorNames = append(o.ActorNames, name)
		}
	}
	if len(it.PlatformURLs) > 0 { // the first by name, so that a re-read maps identically
		keys := make([]string, 0, len(it.PlatformURLs))
		for k := range it.PlatformURLs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		o.PlatformURL = it.PlatformURLs[keys[0]]
	}
	return o, true
}

// described returns a description the source gave, or "" for its
// placeholder "N/A".
func described(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "N/A") {
		return ""
	}
	return s
}

func latest(it *ignite.Indicator) []ignite.Sighting {
	if it.LatestSighting == nil {
		return nil
	}
	return []ignite.Sighting{*it.LatestSighting}
}

// relatedIOCs returns the IOCs an indicator is related to (embed
// related_iocs: on the item, or on its sightings), mapped to Flint's types
// and normalised; those Flint cannot read are left out.
func relatedIOCs(it *ignite.Indicator) []intel.RelatedIOC {
	var raw []ignite.RelatedIOC
	if it.Relationships != nil {
		raw = append(raw, it.Relationships.IOCs...)
	}
	for _, sg := range append(slices.Clone(it.Sightings), latest(it)...) {
		raw = append(raw, sg.RelatedIOCs...)
	}
	var out []intel.RelatedIOC
	seen := map[intel.Ref]bool{}
	for _, r := range raw {
		t, ok := indicatorTypes[strings.ToLower(r.Type)]
		if !ok {
			continue
		}
		v, err := indicator.Normalize(t, r.Value)
		if err != nil || seen[intel.Ref{Type: t, Value: v}] || (r.ID != "" && r.ID == it.ID) {
			continue
		}
		seen[intel.Ref{Type: t, Value: v}] = true
		out = append(out, intel.RelatedIOC{Type: t, Value: v, OriginalID: r.ID})
	}
	return out
}

// indicatorRelations adds to b the MITRE ATT&CK techniques an indicator
// shows, as attack patterns it indicates (with their names and tactics),
// and its relationships to the IOCs the source relates it to, made when
// those are in the page or stored.
func (p *Poll) indicatorRelations(it *ignite.Indicator, o *intel.Object, b *Batch, techniques map[string]bool) {
	for _, m := range it.MitreAttackIDs {
		id := strings.ToUpper(strings.TrimSpace(m.ID))
		if id == "" || len(id) > intel.MaxValueLen {
			continue
		}
		b.Relationships = append(b.Relationships, intel.Relationship{Source: o.Ref(), Type: intel.RelIndicates,
			Target: intel.Ref{Type: intel.AttackPattern, Value: id}})
		if techniques[id] {
			continue
		}
		techniques[id] = true
		// Reported: the window's start, so that how the window is paged
		// (which indicator names the technique first) changes nothing.
		ap := p.base(intel.AttackPattern, id, p.cur.Since, nil)
		ap.Tags = slices.Clone(p.settings.Tags)
		ap.Name = strings.TrimSpace(m.Name)
		ap.ValidUntil = time.Time{} // a technique does not expire
		ap.Tactics = slices.Clone(m.Tactics)
		if m.Tactic != "" {
			ap.Tactics = append(ap.Tactics, m.Tactic)
		}
		b.Objects = append(b.Objects, ap)
	}
	for _, r := range o.RelatedIOCs {
		b.Relationships = append(b.Relationships, intel.Relationship{Source: o.Ref(), Type: intel.RelRelatedTo,
			Target: intel.Ref{Type: r.Type, Value: r.Value}, IfStored: true})
	}
}
