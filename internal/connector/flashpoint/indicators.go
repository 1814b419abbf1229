package flashpoint

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/indicator"
	"github.com/flintcti/flint/internal/intel"
)

var indicatorTypes = map[string]intel.Type{
	"ipv4": intel.IPv4, "ipv6": intel.IPv6, "domain": intel.Domain, "url": intel.URL,
	"file": intel.File, "extracted_config": intel.ExtractedConfig,
}

func (p *Poll) nextIndicators(ctx context.Context) (*Batch, error) {
	f := &p.settings.Filters
	q := ignite.IndicatorQuery{Size: p.c.size(), Sort: "modified_at:asc", ModifiedAfter: p.cur.Since, IOCTypes: f.IndicatorTypes}
	if f.MinScore != intel.ScoreNone {
		q.MinScore = string(f.MinScore)
	}
	page, more, err := boundaryPage(&p.cur, q.Size, func(from int) (*ignite.Page[ignite.Indicator], error) {
		q.From = from
		return p.c.Client.ListIndicators(ctx, q)
	}, func(it *ignite.Indicator) stamp { return stamp{it.ID, it.ModifiedAt.Time, it.ModifiedAt.IsSet()} })
	if err != nil {
		return nil, err
	}
	b := &Batch{Stats: Stats{Fetched: page.Count(), Invalid: len(page.Invalid)}, Objects: make([]intel.Object, 0, len(page.Items)), Remaining: remaining(page)}
	stamps := make([]stamp, 0, len(page.Items))
	for i := range page.Items {
		it := &page.Items[i]
		stamps = append(stamps, stamp{it.ID, it.ModifiedAt.Time, it.ModifiedAt.IsSet()})
		o, ok := p.mapIndicator(it)
		switch {
		case !ok:
			b.Stats.Invalid++
		case !p.keepIndicator(it):
			b.Stats.Filtered++
		default:
			b.Objects = append(b.Objects, o)
		}
	}
	if err := inOrder(stamps, p.cur.Since, "indicators"); err != nil {
		return nil, err
	}
	p.cur.advance(stamps, page.Count())
	p.done = !more
	b.Cursor = p.cur.String()
	return b, nil
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
			o.AttackPatterns = append(o.AttackPatterns, strings.ToUpper(m.ID))
		}
	}
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
