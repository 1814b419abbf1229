package service

import (
	"context"
	"fmt"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/intel"
)

// KeyInput is a new API key: its name, role and optional TLP cap, as given.
type KeyInput struct {
	Name   string
	Role   string
	MaxTLP string // "" : no cap
	List   string // "" : not bound; else the one blocklist the key may read (a firewall's)
}

// CreatedKey is a new key: the only result that carries the key itself.
type CreatedKey struct {
	auth.Key
	Token string `json:"token"`
}

func keyTarget(k auth.Key) string { return fmt.Sprintf("key:%d %s", k.ID, k.Name) }

// CreateKey validates and stores a new key. The principal may grant no
// more than it holds: no permission it lacks, no wider TLP cap.
func (s *Service) CreateKey(ctx context.Context, p *auth.Principal, q KeyInput) (CreatedKey, error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return CreatedKey{}, err
	}
	k := auth.Key{Name: q.Name, Role: auth.Role(q.Role), CreatedBy: p.Actor(), List: q.List}
	if q.MaxTLP != "" {
		t, err := intel.ParseTLP(q.MaxTLP)
		if err != nil {
			t = intel.TLP(q.MaxTLP) // Validate names it
		}
		k.MaxTLP = t
	}
	if rl, err := auth.ParseRole(q.Role); err == nil {
		k.Role = rl
	}
	if err := k.Validate(); err != nil {
		return CreatedKey{}, err
	}
	if err := p.Grants(k); err != nil {
		return CreatedKey{}, err
	}
	if k.List != "" {
		if p.List != "" && p.List != k.List {
			return CreatedKey{}, intel.Errorf(intel.EFORBIDDEN, "%s is bound to the list %q: it may not create a key for %q", p.Actor(), p.List, k.List)
		}
		if _, err := s.Store.List(ctx, k.List); err != nil {
			return CreatedKey{}, intel.Invalid([]intel.FieldError{{Field: "list", Message: intel.ErrorMessage(err)}})
		}
	} else if p.List != "" {
		return CreatedKey{}, intel.Errorf(intel.EFORBIDDEN, "%s is bound to the list %q: a key it creates is bound to it too", p.Actor(), p.List)
	}
	token, prefix, hash := auth.NewToken()
	k.Prefix = prefix
	k, err := s.Store.CreateAPIKey(ctx, k, hash)
	if err != nil {
		return CreatedKey{}, err
	}
	s.audit(ctx, p, "key.create", keyTarget(k), map[string]any{"role": k.Role, "max_tlp": k.MaxTLP, "prefix": k.Prefix, "list": k.List})
	return CreatedKey{k, token}, nil
}

// Keys lists the keys (never the keys themselves).
func (s *Service) Keys(ctx context.Context, p *auth.Principal) ([]auth.Key, error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return nil, err
	}
	keys, err := s.Store.APIKeys(ctx)
	if keys == nil {
		keys = []auth.Key{}
	}
	return keys, err
}

// RevokeKey revokes a key by its id; revoked is false when it was revoked
// before (and nothing changed, no second audit record).
func (s *Service) RevokeKey(ctx context.Context, p *auth.Principal, id int64) (k auth.Key, revoked bool, err error) {
	if err := need(p, auth.ManageKeys); err != nil {
		return auth.Key{}, false, err
	}
	if k, revoked, err = s.Store.RevokeAPIKey(ctx, id); err != nil {
		return k, false, err
	}
	if revoked {
		s.audit(ctx, p, "key.revoke", keyTarget(k), nil)
	}
	return k, revoked, nil
}
