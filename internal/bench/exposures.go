package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/flintcti/flint/internal/auth"
	"github.com/flintcti/flint/internal/cmdb"
	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/ignite"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// ExposuresConfig configures the exposure-matching benchmark.
type ExposuresConfig struct {
	Vulnerabilities int    // in the simulator
	Assets          int    // inventory rows
	CPUProfile      string // write a CPU profile of the matching here
}

// ExposuresResult is what matching an inventory costs a backfill.
type ExposuresResult struct {
	Dialect         string  `json:"dialect"`
	Vulnerabilities int     `json:"vulnerabilities"`
	Assets          int     `json:"assets"`
	Without         float64 `json:"backfill_without_inventory_seconds"`
	With            float64 `json:"backfill_with_inventory_seconds"` // the poll and the matching after it
	Poll            float64 `json:"poll_seconds"`                    // of With: the poll, matching beside it
	Match           float64 `json:"match_seconds"`                   // of With: matching what was left after it
	Ratio           float64 `json:"ratio"`                           // With / Without
	Exposures       int     `json:"exposures_opened"`
}

// Exposures measures a vulnerabilities backfill (no rate limit) into a
// fresh store, then again into another fresh store holding an inventory of
// c.Assets rows, matched beside the poll as flint serve does. The
// inventory's products are the simulator's (from the first store), about a
// third at an affected version.
func Exposures(ctx context.Context, c ExposuresConfig, env Env) (ExposuresResult, error) {
	if c.Vulnerabilities < 1 || c.Assets < 1 || c.Assets > 100*cmdb.MaxAssets {
		return ExposuresResult{}, fmt.Errorf("%d vulnerabilities and %d assets: want at least one of each, at most %d assets",
			c.Vulnerabilities, c.Assets, 100*cmdb.MaxAssets)
	}
	base, token, stop, err := StartSim(ctx, "--vulnerabilities", strconv.Itoa(c.Vulnerabilities), "--indicators", "1",
		"--reports", "1", "--seed", "1", "--window", "336h")
	if err != nil {
		return ExposuresResult{}, err
	}
	defer stop()
	start := time.Now().UTC().Add(-15 * 24 * time.Hour).Add(time.Minute)
	res := ExposuresResult{Vulnerabilities: c.Vulnerabilities, Assets: c.Assets}
	backfill := func(name string) (*pipeline, error) {
		p, err := newPipeline(ctx, env, name, feed.Vulnerabilities, base, token, start, false)
		if err != nil {
			return nil, err
		}
		p.scheduler.Client = func(o *ignite.Options) { o.RateLimit = -1 }
		return p, nil
	}
	poll := func(p *pipeline) (float64, error) {
		t0 := time.Now()
		if _, err := p.scheduler.Poll(ctx, p.channel, feed.TriggerManual); err != nil {
			return 0, err
		}
		return time.Since(t0).Seconds(), nil
	}

	a, err := backfill("exposures-without")
	if err != nil {
		return res, err
	}
	defer a.close()
	res.Dialect = string(a.store.Dialect())
	if res.Without, err = poll(a); err != nil {
		return res, err
	}
	env.progress("backfill of %d vulnerabilities without an inventory: %.1f s", c.Vulnerabilities, res.Without)
	assets, err := inventoryOf(ctx, a.store, c.Assets)
	if err != nil {
		return res, err
	}

	b, err := backfill("exposures-with")
	if err != nil {
		return res, err
	}
	defer b.close()
	svc := &service.Service{Store: b.store, Log: env.log()}
	op := auth.Operator("bench")
	for i := 0; i < len(assets); i += cmdb.MaxAssets {
		if _, err := svc.ImportInventory(ctx, op, assets[i:min(i+cmdb.MaxAssets, len(assets))], false); err != nil {
			return res, err
		}
	}
	// As serve does: each page committed kicks the matching beside the
	// poll (coalesced, at most once a second); after the poll, what is
	// left is matched.
	stopProfile, err := StartProfile(c.CPUProfile)
	if err != nil {
		return res, err
	}
	kick := make(chan struct{}, 1)
	b.scheduler.OnPage = func(feed.PollRun) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	mctx, stopMatching := context.WithCancel(ctx)
	beside := make(chan struct{})
	go func() { svc.MatchBeside(mctx, kick, time.Second); close(beside) }()
	t0 := time.Now()
	res.Poll, err = poll(b)
	stopMatching()
	<-beside
	if err != nil {
		stopProfile()
		return res, err
	}
	t1 := time.Now()
	_, err = svc.MatchChanged(ctx)
	stopProfile()
	if err != nil {
		return res, err
	}
	res.Match, res.With = time.Since(t1).Seconds(), time.Since(t0).Seconds()
	xs, err := b.store.CountExposures(ctx)
	if err != nil {
		return res, err
	}
	res.Exposures = xs
	res.Ratio = res.With / res.Without
	env.progress("backfill with %d assets: poll %.1f s with matching beside it, then %.1f s to match the rest (%d exposures): %.2f× the time without",
		len(assets), res.Poll, res.Match, res.Exposures, res.Ratio)
	return res, nil
}

// inventoryOf makes n inventory rows of the products st's vulnerabilities
// name: about a third at a version listed affected, the rest at one no
// vulnerability lists.
func inventoryOf(ctx context.Context, st *store.Store, n int) ([]cmdb.Asset, error) {
	var prods []intel.ProductRef
	q := store.Query{Types: []intel.Type{intel.Vulnerability}, Limit: 1000}
	for len(prods) < 5000 {
		page, err := st.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			if o.Vulnerability != nil {
				prods = append(prods, o.Vulnerability.Products...)
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	if len(prods) == 0 {
		return nil, fmt.Errorf("bench: the backfill stored no product to make an inventory of")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]cmdb.Asset, 0, n)
	for i := range n {
		p := prods[rng.IntN(len(prods))]
		version := fmt.Sprintf("%d.%d.%d", 90+rng.IntN(9), rng.IntN(10), rng.IntN(10))
		if len(p.Versions) > 0 && i%3 == 0 {
			version = p.Versions[rng.IntN(len(p.Versions))]
		}
		out = append(out, cmdb.Asset{AssetID: fmt.Sprintf("host-%05d", i), Asset: fmt.Sprintf("host-%05d", i), Vendor: p.Vendor,
			Product: p.Product, Version: version})
	}
	return out, nil
}
