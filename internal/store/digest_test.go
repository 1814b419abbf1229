package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/intel"
)

// emptyDetails and digest must notice every field of intel.Details: a field
// they missed would be silently dropped by the store.
func TestEmptyDetailsCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(intel.Details{})
	for i := 0; i < typ.NumField(); i++ {
		var d intel.Details
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.New(f.Type().Key()).Elem(), reflect.New(f.Type().Elem()).Elem())
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			if f.Type() != reflect.TypeOf(time.Time{}) {
				t.Fatalf("field %s is a struct: teach emptyDetails and this test about it", typ.Field(i).Name)
			}
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
		default:
			t.Fatalf("field %s has kind %s: teach emptyDetails and this test about it", typ.Field(i).Name, f.Kind())
		}
		if emptyDetails(&d) {
			t.Errorf("emptyDetails ignores Details.%s", typ.Field(i).Name)
		}
		base := intel.Object{Type: intel.Domain, Value: "a.example"}
		with := base
		with.Details = d
		if digest(&base) == digest(&with) {
			t.Errorf("digest ignores Details.%s", typ.Field(i).Name)
		}
	}
}

// Every field of a view changes its digest.
func TestDigestCoversEveryField(t *testing.T) {
	base := intel.Object{Type: intel.Domain, Value: "a.example", TLP: intel.TLPAmber, Confidence: 50}
	n := 5
	changes := map[string]func(o *intel.Object){
		"type": func(o *intel.Object) { o.Type = intel.URL }, "value": func(o *intel.Object) { o.Value = "b.example" },
		"name": func(o *intel.Object) { o.Name = "n" }, "description": func(o *intel.Object) { o.Description = "d" },
		"tlp": func(o *intel.Object) { o.TLP = intel.TLPRed }, "confidence": func(o *intel.Object) { o.Confidence = 51 },
		"relevance": func(o *intel.Object) { o.Relevance = &n }, "severity": func(o *intel.Object) { o.Severity = &n },
		"score": func(o *intel.Object) { o.Score = intel.ScoreMalicious }, "tags": func(o *intel.Object) { o.Tags = []string{"t"} },
		"first_seen": func(o *intel.Object) { o.FirstSeen = time.Unix(1, 0) }, "last_seen": func(o *intel.Object) { o.LastSeen = time.Unix(1, 0) },
		"valid_from": func(o *intel.Object) { o.ValidFrom = time.Unix(1, 0) }, "valid_until": func(o *intel.Object) { o.ValidUntil = time.Unix(1, 0) },
		"reported": func(o *intel.Object) { o.Reported = time.Unix(1, 0) }, "original_id": func(o *intel.Object) { o.OriginalID = "x" },
	}
	for name, change := range changes {
		o := base
		change(&o)
		if digest(&o) == digest(&base) {
			t.Errorf("changing %s leaves the digest unchanged", name)
		}
	}
	a, b := base, base
	a.Tags, b.Tags = []string{"a", "b"}, []string{"ab"}
	if digest(&a) == digest(&b) {
		t.Error("tags [a b] and [ab] share a digest")
	}
	// The write-side fields above, the read-side ones and Details: a new
	// field of intel.Object must be added to digest and to this test.
	if n := reflect.TypeOf(intel.Object{}).NumField(); n != len(changes)+1+6 {
		t.Errorf("intel.Object has %d fields; digest covers %d: update digest and this test", n, len(changes)+1+6)
	}
}
