package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

func TestAPIKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		token, prefix, hash := auth.NewToken()
		k, err := s.CreateAPIKey(ctx, auth.Key{Name: "splunk", Role: auth.Analyst, MaxTLP: intel.TLPGreen, Prefix: prefix, CreatedBy: "cli:root"}, hash)
		if err != nil {
			t.Fatal(err)
		}
		if k.ID == 0 || !k.Created.Equal(epoch) {
			t.Fatalf("created %+v", k)
		}
		got, err := s.APIKeyByHash(ctx, auth.Hash(token))
		if err != nil || got.ID != k.ID || got.Role != auth.Analyst || got.MaxTLP != intel.TLPGreen || got.Prefix != prefix {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := s.APIKeyByHash(ctx, auth.Hash(token+"x")); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Fatalf("wrong key: %v", err)
		}
		// Use is recorded at most once a minute.
		c.Add(time.Hour)
		if err := s.TouchAPIKey(ctx, k.ID, c.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchAPIKey(ctx, k.ID, c.Now().Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.APIKey(ctx, k.ID)
		if got.LastUsed == nil || !got.LastUsed.Equal(c.Now()) {
			t.Fatalf("last used %v, want %v", got.LastUsed, c.Now())
		}
		// Bad keys are refused with every bad field named.
		_, err = s.CreateAPIKey(ctx, auth.Key{Name: " ", Role: "root", MaxTLP: "purple"}, "h")
		if f := intel.Fields(err); len(f) != 3 || f[0].Field != "name" || f[1].Field != "role" || f[2].Field != "max_tlp" {
			t.Fatalf("bad key: %v %+v", err, f)
		}
		// Revoked keys stop working and stay listed.
		if k2, revoked, err := s.RevokeAPIKey(ctx, k.ID); err != nil || k2.Revoked == nil || !revoked {
			t.Fatalf("revoke: %+v %v %v", k2, revoked, err)
		}
		if _, again, err := s.RevokeAPIKey(ctx, k.ID); err != nil || again {
			t.Errorf("revoking a revoked key: revoked again %v, %v", again, err)
		}
		if _, err := s.APIKeyByHash(ctx, hash); intel.ErrorCode(err) != intel.EUNAUTHORIZED {
			t.Fatalf("revoked key: %v", err)
		}
		keys, err := s.APIKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].Revoked == nil {
			t.Fatalf("list: %+v %v", keys, err)
		}
		if _, _, err := s.RevokeAPIKey(ctx, 999); intel.ErrorCode(err) != intel.ENOTFOUND {
			t.Fatalf("revoke unknown: %v", err)
		}
	})
}

func TestAuditTrail(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		for i, a := range []string{"instance.create", "channel.update", "key.revoke"} {
			c.Add(time.Second)
			if err := s.Audit(ctx, "key:1 admin", a, "target-"+string(rune('a'+i)), map[string]int{"n": i}); err != nil {
				t.Fatal(err)
			}
		}
		recs, err := s.AuditTrail(ctx, 0, 2)
		if err != nil || len(recs) != 2 {
			t.Fatalf("trail: %+v %v", recs, err)
		}
		if recs[0].Action != "key.revoke" || recs[1].Action != "channel.update" || !recs[0].At.Equal(epoch.Add(3*time.Second)) {
			t.Fatalf("order: %+v", recs)
		}
		var d map[string]int
		if err := json.Unmarshal(recs[0].Detail, &d); err != nil || d["n"] != 2 {
			t.Fatalf("detail %s: %v", recs[0].Detail, err)
		}
		rest, err := s.AuditTrail(ctx, recs[1].ID, 10)
		if err != nil || len(rest) != 1 || rest[0].Action != "instance.create" || !strings.HasPrefix(rest[0].Target, "target-a") {
			t.Fatalf("next page: %+v %v", rest, err)
		}
		if _, err := s.AuditTrail(ctx, 0, 0); intel.ErrorCode(err) != intel.EINVALID {
			t.Fatalf("limit 0: %v", err)
		}
	})
}
