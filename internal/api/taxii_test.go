package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/stix"
	"github.com/flintcti/flint/internal/store"
	"github.com/flintcti/flint/internal/store/storetest"
	"github.com/flintcti/flint/internal/taxii"
)

const taxiiAccept = "application/taxii+json;version=2.1"

// taxiiDo sends a TAXII request: Accept as given ("" : none), the key as
// Bearer (or, with basic, as HTTP Basic's password). Every answer, error
// or not, must be TAXII's media type.
func (e *env) taxiiDo(method, path, key, accept string, basic bool) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	switch {
	case key == "":
	case basic:
		req.SetBasicAuth("siem", key)
	default:
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != taxii.MediaType {
		e.t.Fatalf("%s %s: Content-Type %q, want %q (%d %s)", method, path, ct, taxii.MediaType, res.StatusCode, body)
	}
	return resp{res.StatusCode, res.Header, body}
}

// taxiiGet is a GET that must answer 200.
func (e *env) taxiiGet(path, key string, v any) resp {
	e.t.Helper()
	r := e.taxiiDo("GET", path, key, taxiiAccept, false)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	r.json(e.t, v)
	return r
}

// taxiiErr checks a TAXII error message.
func taxiiErr(t *testing.T, r resp, status int) taxii.Error {
	t.Helper()
	var b taxii.Error
	r.json(t, &b)
	if r.status != status || b.HTTPStatus != fmt.Sprint(status) || b.Title == "" || b.Description == "" {
		t.Fatalf("want a TAXII error %d, got %d %s", status, r.status, r.body)
	}
	return b
}

type envelopeBody struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

type stixHead struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Modified    string          `json:"modified"`
	SpecVersion string          `json:"spec_version"`
	Markings    []string        `json:"object_marking_refs"`
	SourceRef   string          `json:"source_ref"`
	TargetRef   string          `json:"target_ref"`
	ObjectRefs  []string        `json:"object_refs"`
	Extensions  json.RawMessage `json:"extensions"`
}

// walked is what a client read by paging.
type walked struct {
	objects []stixHead
	added   []time.Time // each object's date_added, from the manifest's records or the headers
	last    time.Time   // X-TAXII-Date-Added-Last of the last page with objects
	pages   int
}

// walk pages through an objects endpoint with next to its end.
func (e *env) walk(path, key string) walked {
	e.t.Helper()
	var w walked
	next := ""
	for range 10000 {
		p := path
		if next != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "next=" + url.QueryEscape(next)
		}
		var env envelopeBody
		r := e.taxiiGet(p, key, &env)
		w.pages++
		for _, raw := range env.Objects {
			var h stixHead
			if err := json.Unmarshal(raw, &h); err != nil {
				e.t.Fatal(err)
			}
			w.objects = append(w.objects, h)
		}
		if len(env.Objects) > 0 {
			first, err1 := time.Parse(time.RFC3339Nano, r.header.Get("X-TAXII-Date-Added-First"))
			last, err2 := time.Parse(time.RFC3339Nano, r.header.Get("X-TAXII-Date-Added-Last"))
			if err1 != nil || err2 != nil || last.Before(first) || last.Before(w.last) {
				e.t.Fatalf("page %d: date added first %q last %q (previous last %v)", w.pages, r.header.Get("X-TAXII-Date-Added-First"),
					r.header.Get("X-TAXII-Date-Added-Last"), w.last)
			}
			w.last = last
		}
		if !env.More {
			if env.Next != "" {
				e.t.Fatalf("more is false with a next token")
			}
			return w
		}
		if env.Next == "" {
			e.t.Fatalf("more is true without a next token")
		}
		next = env.Next
	}
	e.t.Fatal("the walk does not end")
	return w
}

func collectionURL(name string) string {
	return "/taxii2/flint/collections/" + taxii.CollectionID(name) + "/"
}

// Discovery, the API root and the collections, with Bearer or Basic; what
// a TAXII client reads first.
func TestTAXIIDiscoveryAndCollections(t *testing.T) {
	e := loaded(t)
	analyst := e.key("siem", auth.Analyst, "")
	var d taxii.Discovery
	e.taxiiGet("/taxii2/", analyst, &d)
	if d.Default != "/taxii2/flint/" || !slices.Equal(d.APIRoots, []string{"/taxii2/flint/"}) {
		t.Errorf("discovery: %+v", d)
	}
	var root taxii.APIRoot
	e.taxiiGet("/taxii2/flint/", analyst, &root)
	if !slices.Equal(root.Versions, []string{taxii.MediaType}) || root.MaxContentLength <= 0 {
		t.Errorf("API root: %+v", root)
	}
	// HTTP Basic with the key as the password, as SIEM connectors send it.
	r := e.taxiiDo("GET", "/taxii2/flint/collections/", analyst, taxiiAccept, true)
	var cs taxii.Collections
	r.json(t, &cs)
	if r.status != http.StatusOK || len(cs.Collections) != 3 {
		t.Fatalf("collections over Basic: %d %s", r.status, r.body)
	}
	for _, c := range cs.Collections {
		if !c.CanRead || c.CanWrite || !slices.Equal(c.MediaTypes, []string{taxii.STIXMediaType}) || c.ID != taxii.CollectionID(c.Title) {
			t.Errorf("collection %+v", c)
		}
		var one taxii.Collection
		e.taxiiGet("/taxii2/flint/collections/"+c.ID+"/", analyst, &one)
		if one.ID != c.ID || one.Title != c.Title || one.Description != c.Description || !one.CanRead || one.CanWrite {
			t.Errorf("GET collection: %+v, listed %+v", one, c)
		}
	}
	// Errors are TAXII error messages.
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/", "", taxiiAccept, false), http.StatusUnauthorized)
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/", "flint_notarealkeynotarealkey00", taxiiAccept, true), http.StatusUnauthorized)
	manager := e.key("ops", auth.FeedManager, "")
	if b := taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/", manager, taxiiAccept, false), http.StatusForbidden); !strings.Contains(b.Description, "read_intel") {
		t.Errorf("403 does not name the permission: %+v", b)
	}
	for _, accept := range []string{"", "application/json", "application/taxii+json;version=2.0", "*/*", "application/stix+json;version=2.1"} {
		if b := taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/", analyst, accept, false), http.StatusNotAcceptable); !strings.Contains(b.Description, taxii.MediaType) {
			t.Errorf("Accept %q: 406 does not say what to send: %+v", accept, b)
		}
	}
	if r := e.taxiiDo("GET", "/taxii2/flint/collections/", analyst, "application/taxii+json", false); r.status != http.StatusOK {
		t.Errorf("Accept without a version: %d %s", r.status, r.body)
	}
	coll := collectionURL("main Indicators")
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/"+taxii.CollectionID("nope")+"/objects/", analyst, taxiiAccept, false), http.StatusNotFound)
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/other/", analyst, taxiiAccept, false), http.StatusNotFound)
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/status/"+taxii.CollectionID("x")+"/", analyst, taxiiAccept, false), http.StatusNotFound)
	// Writes: the collections are read-only.
	taxiiErr(t, e.taxiiDo("POST", coll+"objects/", analyst, taxiiAccept, false), http.StatusForbidden)
	taxiiErr(t, e.taxiiDo("DELETE", coll+"objects/indicator--"+taxii.CollectionID("x")+"/", e.admin, taxiiAccept, false), http.StatusForbidden)
	taxiiErr(t, e.taxiiDo("PUT", coll+"objects/", analyst, taxiiAccept, false), http.StatusMethodNotAllowed)
	// A key bound to a blocklist reads only it.
	e.do("PUT", "/api/v1/lists/fw", e.admin, map[string]any{"types": []string{"ipv4"}})
	var created struct {
		Token string `json:"token"`
	}
	e.do("POST", "/api/v1/keys", e.admin, map[string]any{"name": "fw", "role": "analyst", "list": "fw"}).json(t, &created)
	taxiiErr(t, e.taxiiDo("GET", "/taxii2/flint/collections/", created.Token, taxiiAccept, false), http.StatusForbidden)
}

// Every TAXII route needs a key with read_intel.
func TestTAXIIRoutesCheckThePermission(t *testing.T) {
	e := newEnv(t)
	byRole := map[auth.Role]string{}
	for _, r := range auth.Roles() {
		byRole[r] = e.key("k-"+string(r), r, "")
	}
	id := taxii.CollectionID("x")
	for _, rt := range api.TAXIIRoutes() {
		path := strings.NewReplacer("{$}", "", "{collection}", id, "{object}", "indicator--"+id, "{status}", id).Replace(rt.Pattern)
		if rt.Perm != auth.ReadIntel {
			t.Errorf("%s %s needs %q", rt.Method, rt.Pattern, rt.Perm)
		}
		taxiiErr(t, e.taxiiDo(rt.Method, path, "", taxiiAccept, false), http.StatusUnauthorized)
		for role, key := range byRole {
			r := e.taxiiDo(rt.Method, path, key, taxiiAccept, false)
			has := slices.Contains(role.Permissions(), rt.Perm)
			if !has {
				taxiiErr(t, r, http.StatusForbidden)
			} else if r.status == http.StatusUnauthorized || (r.status == http.StatusForbidden && rt.Method == "GET") {
				t.Errorf("%s %s with %s: %d %s", rt.Method, path, role, r.status, r.body)
			}
		}
	}
}

// Paging through a collection by next: every object of the collection
// once, each with its observable, relationships between objects of the
// collection, date_added in order; the manifest agrees with the objects;
// objects/{id}, versions and the match filters find what the walk saw.
func TestTAXIIObjectsWalk(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, dialect string) {
		{
			e := loadedOn(t, dialect)
			analyst := e.key("siem", auth.Analyst, "")
			for _, name := range []string{"main Vulnerabilities", "main Reports", "main Indicators"} {
				coll := collectionURL(name)
				w := e.walk(coll+"objects/?limit=37", analyst)
				ids := map[string]int{}
				for _, o := range w.objects {
					ids[o.ID]++
					if o.SpecVersion != "2.1" {
						t.Errorf("%s: spec_version %q", o.ID, o.SpecVersion)
					}
				}
				for id, n := range ids {
					if n != 1 {
						t.Errorf("%s: %s served %d times", name, id, n)
					}
				}
				// Every Flint object of the collection is there, by its STIX id.
				res, err := e.store.Search(context.Background(), store.Query{Collection: name, Limit: 1000, Bare: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Objects) == 0 {
					t.Fatalf("%s is empty", name)
				}
				for i := range res.Objects {
					for _, id := range stix.IDs(&res.Objects[i]) {
						if ids[id] == 0 {
							t.Errorf("%s: %s %s (%s) not served", name, res.Objects[i].Type, res.Objects[i].Value, id)
						}
					}
				}
				// What the objects refer to is served too.
				for _, o := range w.objects {
					for _, ref := range append(append([]string{o.SourceRef, o.TargetRef}, o.Markings...), o.ObjectRefs...) {
						if ref != "" && ids[ref] == 0 {
							t.Errorf("%s: %s refers to %s, which the collection does not serve", name, o.ID, ref)
						}
					}
				}
				// The manifest lists the same objects in the same order.
				var m taxii.Manifest
				e.taxiiGet(coll+"manifest/?limit=1000", analyst, &m)
				if len(m.Objects) != min(len(w.objects), 1000) {
					t.Fatalf("%s: manifest has %d records, the walk %d objects", name, len(m.Objects), len(w.objects))
				}
				for i, rec := range m.Objects {
					if rec.ID != w.objects[i].ID || rec.MediaType != taxii.STIXMediaType || rec.Version == "" {
						t.Fatalf("%s: manifest record %d %+v, object %s", name, i, rec, w.objects[i].ID)
					}
					if i > 0 && rec.DateAdded < m.Objects[i-1].DateAdded {
						t.Fatalf("%s: date_added goes back at %d", name, i)
					}
				}
				// One object by id, its versions, and match[id] / match[type].
				pick := w.objects[len(w.objects)/2]
				var one envelopeBody
				e.taxiiGet(coll+"objects/"+pick.ID+"/", analyst, &one)
				if len(one.Objects) != 1 || !strings.Contains(string(one.Objects[0]), pick.ID) {
					t.Errorf("%s: objects/%s: %d objects", name, pick.ID, len(one.Objects))
				}
				var vs taxii.Versions
				e.taxiiGet(coll+"objects/"+pick.ID+"/versions/", analyst, &vs)
				if len(vs.Versions) == 0 {
					t.Errorf("%s: no versions of %s", name, pick.ID)
				}
				var byID envelopeBody
				e.taxiiGet(coll+"objects/?match[id]="+pick.ID+","+w.objects[0].ID, analyst, &byID)
				if len(byID.Objects) != 2 {
					t.Errorf("%s: match[id] of two: %d objects", name, len(byID.Objects))
				}
				types := map[string]int{}
				for _, o := range w.objects {
					types[o.Type]++
				}
				for typ, n := range types {
					got := e.walk(coll+"objects/?limit=1000&match[type]="+typ, analyst)
					if len(got.objects) != n {
						t.Errorf("%s: match[type]=%s: %d objects, want %d", name, typ, len(got.objects), n)
					}
				}
				if got := e.walk(coll+"objects/?match[spec_version]=2.0", analyst); len(got.objects) != 0 {
					t.Errorf("%s: spec_version 2.0: %d objects", name, len(got.objects))
				}
				// Resuming with added_after at the last date seen: nothing new.
				if got := e.walk(coll+"objects/?added_after="+url.QueryEscape(taxii.Timestamp(w.last)), analyst); len(got.objects) != 0 {
					t.Errorf("%s: after the last date added: %d objects", name, len(got.objects))
				}
				taxiiErr(t, e.taxiiDo("GET", coll+"objects/indicator--"+taxii.CollectionID("absent")+"/", analyst, taxiiAccept, false), http.StatusNotFound)
			}
			// Bad filters are 400s naming the parameter.
			coll := collectionURL("main Indicators")
			for q, want := range map[string]string{"limit=0": "limit", "limit=x": "limit", "added_after=yesterday": "added_after",
				"match[id]=nope": "match[id]", "match[version]=latest": "match[version]", "match[spec_version]=3": "match[spec_version]",
				"sort=x": "sort", "match[type]=Indicator": "match[type]"} {
				if b := taxiiErr(t, e.taxiiDo("GET", coll+"objects/?"+q, analyst, taxiiAccept, false), http.StatusBadRequest); !strings.Contains(b.Description, want) {
					t.Errorf("%s: %+v", q, b)
				}
			}
		}
	})
}

// A key capped at a TLP receives nothing above it and learns nothing of
// it: not in objects, manifests, versions or by id; a next token is good
// only for the key, cap and filter it was given for, and an altered one
// is refused.
func TestTAXIITLPCapAndTokens(t *testing.T) {
	storetest.ForEachDialect(t, testTAXIITLPCapAndTokensOn)
}

func testTAXIITLPCapAndTokensOn(t *testing.T, dialect string) {
	e := loadedOn(t, dialect) // indicators are red, vulnerabilities green, reports clear
	green := e.key("green", auth.Analyst, intel.TLPGreen)
	analyst := e.key("siem", auth.Analyst, "")
	ind := collectionURL("main Indicators")
	all := e.walk(ind+"objects/?limit=50", analyst)
	capped := e.walk(ind+"objects/?limit=50", green)
	for _, o := range capped.objects {
		if !slices.Contains([]string{"identity", "marking-definition", "extension-definition"}, o.Type) {
			t.Errorf("a green key received %s %s", o.Type, o.ID)
		}
	}
	var m taxii.Manifest
	e.taxiiGet(ind+"manifest/", green, &m)
	if len(m.Objects) != len(capped.objects) {
		t.Errorf("green manifest: %d records", len(m.Objects))
	}
	var red stixHead
	for _, o := range all.objects {
		if o.Type == "indicator" {
			red = o
			break
		}
	}
	taxiiErr(t, e.taxiiDo("GET", ind+"objects/"+red.ID+"/", green, taxiiAccept, false), http.StatusNotFound)
	taxiiErr(t, e.taxiiDo("GET", ind+"objects/"+red.ID+"/versions/", green, taxiiAccept, false), http.StatusNotFound)
	var byID envelopeBody
	e.taxiiGet(ind+"objects/?match[id]="+red.ID, green, &byID)
	if len(byID.Objects) != 0 {
		t.Errorf("match[id] gave a green key a red object")
	}
	// Reports are clear; their relationships to red indicators are not
	// served to a green key, nor named in object_refs.
	reps := e.walk(collectionURL("main Reports")+"objects/", green)
	for _, o := range reps.objects {
		if strings.Contains(strings.Join(append(o.ObjectRefs, o.SourceRef, o.TargetRef), " "), red.ID) {
			t.Errorf("a green key sees %s refer to the red %s", o.ID, red.ID)
		}
	}
	// A collection holding a clear report related to a clear and a red
	// indicator: a green key sees the report, the clear indicator and
	// their relationship; of the red one, nothing, in object_refs neither.
	ctx := context.Background()
	l, err := e.store.AcquireLease(ctx, 500, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	at := simNow.Add(-time.Hour)
	mk := func(typ intel.Type, value string, tlp intel.TLP) intel.Object {
		return intel.Object{Type: typ, Value: value, TLP: tlp, Confidence: 80, Created: at, Modified: at, FirstSeen: at, LastSeen: at}
	}
	rep, clear, hidden := mk(intel.Report, "Mixed report", intel.TLPClear), mk(intel.Domain, "clear.example", intel.TLPClear), mk(intel.Domain, "red.example", intel.TLPRed)
	if _, err := e.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 500, Instance: "m", Channel: "reports"}, Collection: "mixed",
		Cursor: "1", Objects: []intel.Object{rep, clear, hidden},
		Relationships: []intel.Relationship{{Source: rep.Ref(), Type: intel.RelRelatedTo, Target: clear.Ref()}, {Source: rep.Ref(), Type: intel.RelRelatedTo, Target: hidden.Ref()}}}); err != nil {
		t.Fatal(err)
	}
	mixed := collectionURL("mixed")
	count := func(w walked) (rels int, refs []string, ids []string) {
		for _, o := range w.objects {
			ids = append(ids, o.ID)
			if o.Type == "relationship" {
				rels++
			}
			if o.Type == "report" {
				refs = o.ObjectRefs
			}
		}
		return
	}
	if rels, refs, _ := count(e.walk(mixed+"objects/", analyst)); rels != 2 || len(refs) != 2 {
		t.Errorf("an uncapped key: %d relationships, object_refs %v", rels, refs)
	}
	rels, refs, ids := count(e.walk(mixed+"objects/", green))
	redID := stix.ObjectID(&hidden)
	if rels != 1 || !slices.Equal(refs, []string{stix.ObjectID(&clear)}) || slices.Contains(ids, redID) {
		t.Errorf("a green key: %d relationships, object_refs %v, ids %v", rels, refs, ids)
	}
	var vm taxii.Manifest
	e.taxiiGet(mixed+"manifest/", green, &vm)
	for _, rec := range vm.Objects {
		if rec.ID == redID {
			t.Errorf("the green manifest lists the red indicator")
		}
	}

	// Tokens.
	var env envelopeBody
	e.taxiiGet(ind+"objects/?limit=5", analyst, &env)
	if !env.More || env.Next == "" {
		t.Fatalf("no next token: %+v", env)
	}
	next := url.QueryEscape(env.Next)
	var cont envelopeBody
	e.taxiiGet(ind+"objects/?limit=5&next="+next, analyst, &cont)
	if len(cont.Objects) != 5 {
		t.Errorf("the next page holds %d objects", len(cont.Objects))
	}
	// The token survives a restart: another server over the same store and
	// key file takes it.
	again := httptest.NewServer((&api.Server{Service: &service.Service{Store: e.store, TokenKey: e.api.Service.TokenKey},
		RateLimit: 1e6, RateBurst: 1e6}).Handler())
	defer again.Close()
	req, _ := http.NewRequest("GET", again.URL+ind+"objects/?limit=5&next="+next, nil)
	req.Header.Set("Accept", taxiiAccept)
	req.Header.Set("Authorization", "Bearer "+analyst)
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if res.StatusCode != http.StatusOK {
		t.Errorf("after a restart: %d", res.StatusCode)
	} else {
		var after envelopeBody
		if json.NewDecoder(res.Body).Decode(&after) != nil || len(after.Objects) != 5 || string(after.Objects[0]) != string(cont.Objects[0]) {
			t.Errorf("after a restart the next page differs")
		}
		res.Body.Close()
	}
	tampered := []byte(env.Next)
	tampered[len(tampered)/2] ^= 1
	for who, path := range map[string]string{
		"another key":        "green",
		"another filter":     "match[type]=indicator",
		"another collection": "collection",
		"an altered token":   "tampered",
		"a forged token":     "forged",
	} {
		key, p := analyst, ind+"objects/?next="+next
		switch path {
		case "green":
			key = green
		case "collection":
			p = collectionURL("main Reports") + "objects/?next=" + next
		case "tampered":
			p = ind + "objects/?next=" + url.QueryEscape(string(tampered))
		case "forged":
			p = ind + "objects/?next=" + taxii.Sign([]byte("guessed"), taxii.Token{Key: 1, CapRank: -1, Collection: 1, Stamp: 0})
		default:
			p += "&" + path
		}
		if b := taxiiErr(t, e.taxiiDo("GET", p, key, taxiiAccept, false), http.StatusBadRequest); !strings.Contains(b.Description, "next") {
			t.Errorf("%s: %+v", who, b)
		}
	}
}

// A client following the collection by added_after (the last
// X-TAXII-Date-Added-Last it received) while polls write, new objects and
// updates, in several transactions at once: at the end it has received
// every object at its latest version.
func TestTAXIIAddedAfterMissesNothingUnderConcurrentWrites(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, dialect string) {
		{
			e := newEnvOn(t, dialect)
			analyst := e.key("siem", auth.Analyst, "")
			ctx := context.Background()
			const writers, pages, perPage = 3, 10, 20
			base := simNow.Add(-time.Hour)
			object := func(i int, modified time.Time) intel.Object {
				return intel.Object{Type: intel.IPv4, Value: fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256), TLP: intel.TLPAmber,
					Confidence: 50, Created: base, Modified: modified, FirstSeen: base, LastSeen: modified}
			}
			write := func(w int, objs []intel.Object, cursor string) error {
				l, err := e.store.AcquireLease(ctx, int64(100+w), "test", time.Minute)
				if err != nil {
					return err
				}
				_, err = e.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: int64(100 + w), Instance: "w", Channel: "indicators"},
					Collection: "busy", Cursor: cursor, Objects: objs})
				return err
			}
			if err := write(0, []intel.Object{object(0, base)}, "seed"); err != nil {
				t.Fatal(err)
			}
			coll := collectionURL("busy")
			// Each writer's page p waits for the reader's p-th read: reads
			// and commits interleave whatever the machine's speed.
			var mu sync.Mutex
			cond := sync.NewCond(&mu)
			reads := 0
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for p := range pages {
						mu.Lock()
						for reads < p {
							cond.Wait()
						}
						mu.Unlock()
						var objs []intel.Object
						for i := range perPage {
							// New objects, and every third page updates the
							// previous page's objects.
							n := (w*pages+p)*perPage + i + 1
							mod := base.Add(time.Duration(p) * time.Minute)
							if p%3 == 2 {
								n -= perPage
							}
							objs = append(objs, object(n, mod))
						}
						e.sim.Advance(time.Millisecond) // each write a new version (the store stamps versions by its clock)
						if err := write(w+1, objs, fmt.Sprint(p)); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			seen := map[string]string{} // indicator id → latest modified received
			var mark time.Time
			for finished := false; !finished; {
				select {
				case <-done:
					finished = true // one more read after the last commit
				default:
				}
				path := coll + "objects/?limit=13&match[type]=indicator"
				if !mark.IsZero() {
					path += "&added_after=" + url.QueryEscape(taxii.Timestamp(mark))
				}
				w := e.walk(path, analyst)
				for _, o := range w.objects {
					if o.Modified > seen[o.ID] {
						seen[o.ID] = o.Modified
					}
				}
				if !w.last.IsZero() {
					mark = w.last
				}
				mu.Lock()
				reads++
				cond.Broadcast()
				mu.Unlock()
			}
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			res, err := e.store.Search(ctx, store.Query{Collection: "busy", Limit: 1000, Bare: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Objects) < writers*pages*perPage/2 {
				t.Fatalf("only %d objects stored", len(res.Objects))
			}
			for i := range res.Objects {
				o := &res.Objects[i]
				id := stix.ObjectID(o)
				want := o.Modified.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
				if seen[id] != want {
					t.Errorf("%s: received version %q, stored %q", o.Value, seen[id], want)
				}
			}
			if len(seen) != len(res.Objects) {
				t.Errorf("received %d indicators, %d stored", len(seen), len(res.Objects))
			}
			// By id, the latest version of objects written after the first
			// look-up (the id index catches up).
			for _, i := range []int{0, len(res.Objects) / 2, len(res.Objects) - 1} {
				o := &res.Objects[i]
				var env envelopeBody
				e.taxiiGet(coll+"objects/"+stix.ObjectID(o)+"/", analyst, &env)
				var h stixHead
				if len(env.Objects) != 1 || json.Unmarshal(env.Objects[0], &h) != nil || h.Modified != seen[h.ID] {
					t.Errorf("objects/{id} of %s: %s", o.Value, env.Objects)
				}
			}
		}
	})
}

// An object updated in a collection has two versions there: versions/
// lists both, oldest first, a page at a time; objects/ serves the latest
// (the content kept), for last and all; first serves only objects never
// updated; a timestamp serves the object whose version it is.
func TestTAXIIVersions(t *testing.T) {
	storetest.ForEachDialect(t, testTAXIIVersionsOn)
}

func testTAXIIVersionsOn(t *testing.T, dialect string) {
	e := newEnvOn(t, dialect)
	analyst := e.key("siem", auth.Analyst, "")
	ctx := context.Background()
	l, err := e.store.AcquireLease(ctx, 600, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := simNow.Add(-2*time.Hour), simNow.Add(-time.Hour)
	mk := func(value string, modified time.Time, conf int) intel.Object {
		return intel.Object{Type: intel.Domain, Value: value, TLP: intel.TLPAmber, Confidence: conf, Created: v1, Modified: modified, FirstSeen: v1, LastSeen: modified}
	}
	write := func(cursor string, objs ...intel.Object) {
		if _, err := e.store.ApplyPage(ctx, l, store.Page{Source: intel.Provenance{ChannelID: 600, Instance: "v", Channel: "indicators"},
			Collection: "versions", Cursor: cursor, Objects: objs}); err != nil {
			t.Fatal(err)
		}
	}
	changed, steady := mk("changed.example", v1, 50), mk("steady.example", v1, 50)
	write("1", changed, steady)
	first := e.sim.Clock()
	second := e.sim.Advance(time.Minute) // the store stamps its versions by its clock
	write("2", mk("changed.example", v2, 90))
	coll := collectionURL("versions")
	id, steadyID := stix.ObjectID(&changed), stix.ObjectID(&steady)
	stamp := func(t time.Time) string { return taxii.Timestamp(t.Truncate(time.Millisecond)) }

	var vs taxii.Versions
	r := e.taxiiGet(coll+"objects/"+id+"/versions/", analyst, &vs)
	if !slices.Equal(vs.Versions, []string{stamp(first), stamp(second)}) || vs.More {
		t.Fatalf("versions: %+v", vs)
	}
	if r.header.Get("X-TAXII-Date-Added-First") >= r.header.Get("X-TAXII-Date-Added-Last") {
		t.Errorf("versions' dates added: %v", r.header)
	}
	var page1, page2 taxii.Versions
	e.taxiiGet(coll+"objects/"+id+"/versions/?limit=1", analyst, &page1)
	e.taxiiGet(coll+"objects/"+id+"/versions/?limit=1&next="+url.QueryEscape(page1.Next), analyst, &page2)
	if !page1.More || !slices.Equal(append(page1.Versions, page2.Versions...), vs.Versions) || page2.More {
		t.Errorf("versions by pages: %+v then %+v", page1, page2)
	}
	served := func(version string) []string {
		var env envelopeBody
		e.taxiiGet(coll+"objects/?match[type]=indicator&match[version]="+url.QueryEscape(version), analyst, &env)
		var ids []string
		for _, raw := range env.Objects {
			var h stixHead
			_ = json.Unmarshal(raw, &h)
			ids = append(ids, h.ID)
			if h.ID == id && h.Modified != second.Format("2006-01-02T15:04:05.000Z") {
				t.Errorf("match[version]=%s: %s at %s, not its latest", version, h.ID, h.Modified)
			}
		}
		slices.Sort(ids)
		return ids
	}
	both := []string{id, steadyID}
	slices.Sort(both)
	for version, want := range map[string][]string{"last": both, "all": both, "first": {steadyID}, stamp(second): {id},
		stamp(first): {steadyID}, "first,last": both} {
		if got := served(version); !slices.Equal(got, want) {
			t.Errorf("match[version]=%s: %v, want %v", version, got, want)
		}
	}
}
