package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/stix"
)

// What the store keeps survives a STIX export: objects read back from the
// store and their relationships encode to a bundle that decodes to the same
// objects.
func TestStoreToSTIX(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		rep := intel.Object{Type: intel.Report, Value: "r-1", Name: "Loader returns", TLP: intel.TLPAmber, Confidence: 90, Reported: epoch,
			Tags: []string{"Flashpoint Featured Report"}, Details: intel.Details{Report: &intel.ReportDetail{Body: "<p>x</p>", Featured: true}}}
		ind := ipv4(1, epoch)
		mal := intel.Object{Type: intel.Malware, Value: "emotet", Name: "Emotet", TLP: intel.TLPAmber, Confidence: 90, Reported: epoch}
		MustApply(t, s, MustLease(t, s, 2), Page{Source: labReports, Collection: "lab", Cursor: "1",
			Objects: []intel.Object{rep, ind, mal},
			Relationships: []intel.Relationship{
				{Source: rep.Ref(), Type: intel.RelRelatedTo, Target: ind.Ref()},
				{Source: ind.Ref(), Type: intel.RelIndicates, Target: mal.Ref()},
			}})
		res, err := s.Search(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, o := range res.Objects {
			ids = append(ids, o.ID)
		}
		rels, err := s.Relationships(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(rels) != 2 {
			t.Fatalf("relationships among the objects: %+v", rels)
		}
		partial, err := s.Relationships(ctx, ids[:2]) // the report and the indicator only
		if err != nil || len(partial) != 1 || partial[0].Type != intel.RelRelatedTo {
			t.Errorf("relationships among two of them: %+v, %v", partial, err)
		}
		b, err := stix.Encode(res.Objects, rels)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(b)
		objs, back, err := stix.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 3 || len(back) != 2 {
			t.Fatalf("decoded %d objects and %d relationships", len(objs), len(back))
		}
		for i, o := range objs {
			want := res.Objects[i]
			if o.Ref() != want.Ref() || o.TLP != want.TLP || o.Confidence != want.Confidence || !cmp.Equal(o.Tags, want.Tags) ||
				!o.ValidUntil.Equal(want.ValidUntil.Truncate(1e6)) {
				t.Errorf("object %d: decoded %+v\nstored %+v", i, o, want)
			}
		}
	})
}
