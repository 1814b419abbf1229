package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flintcti/flint/internal/feed"
)

// stateCollector reads, at each scrape, the channels' health and the
// database pools: state kept in the store (and shared by replicas) rather
// than counted by this process.
type stateCollector struct{ src Source }

var (
	channelStatus = prometheus.NewDesc(namespace+"_channel_status",
		"A channel's working status: 1 for the status it is in (running, connection_error, disabled), 0 for the others.",
		[]string{"instance", "channel", "status"}, nil)
	channelEnabled = prometheus.NewDesc(namespace+"_channel_enabled",
		"Whether a channel is enabled in its settings (1) or not (0).", []string{"instance", "channel"}, nil)
	channelNoData = prometheus.NewDesc(namespace+"_channel_no_data",
		"Whether a channel brought no data for three scheduled polls in a row (1) or not (0).", []string{"instance", "channel"}, nil)
	channelRestores = prometheus.NewDesc(namespace+"_channel_restore_attempts",
		"Failed restore attempts since a channel's connection error began.", []string{"instance", "channel"}, nil)
	channelNextRun = prometheus.NewDesc(namespace+"_channel_next_run_timestamp_seconds",
		"When a channel polls or attempts a restore next (Unix time; absent when not scheduled).", []string{"instance", "channel"}, nil)
	channelSince = prometheus.NewDesc(namespace+"_channel_status_since_timestamp_seconds",
		"When a channel's working status last changed (Unix time).", []string{"instance", "channel"}, nil)

	poolOpen = prometheus.NewDesc(namespace+"_db_connections",
		"Connections of a database pool by state (in_use, idle).", []string{"pool", "state"}, nil)
	poolMax = prometheus.NewDesc(namespace+"_db_max_open_connections",
		"The most connections a database pool opens.", []string{"pool"}, nil)
	poolWaits = prometheus.NewDesc(namespace+"_db_waits_total",
		"Times a database pool had no connection free and a caller waited.", []string{"pool"}, nil)
	poolWaited = prometheus.NewDesc(namespace+"_db_wait_seconds_total",
		"Time callers waited for a connection of a database pool.", []string{"pool"}, nil)

	storeUp = prometheus.NewDesc(namespace+"_store_up",
		"Whether the store answered the scrape's read of channel health (1) or not (0).", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{channelStatus, channelEnabled, channelNoData, channelRestores, channelNextRun,
		channelSince, poolOpen, poolMax, poolWaits, poolWaited, storeUp} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range c.src.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(st.InUse), name, "in_use")
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(st.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.WaitDuration.Seconds(), name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	chs, err := c.src.Channels(ctx, "")
	if err != nil {
		ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 1)
	for _, c := range chs {
		in, kind := c.Instance, string(c.Kind)
		for _, s := range []feed.Status{feed.Running, feed.ConnectionError, feed.Disabled} {
			ch <- prometheus.MustNewConstMetric(channelStatus, prometheus.GaugeValue, bit(c.Health.Status == s), in, kind, string(s))
		}
		ch <- prometheus.MustNewConstMetric(channelEnabled, prometheus.GaugeValue, bit(c.Settings.Enabled), in, kind)
		ch <- prometheus.MustNewConstMetric(channelNoData, prometheus.GaugeValue, bit(c.Health.NoData), in, kind)
		ch <- prometheus.MustNewConstMetric(channelRestores, prometheus.GaugeValue, float64(c.Health.Restores), in, kind)
		if !c.NextRun.IsZero() {
			ch <- prometheus.MustNewConstMetric(channelNextRun, prometheus.GaugeValue, unix(c.NextRun), in, kind)
		}
		if !c.Health.Since.IsZero() {
			ch <- prometheus.MustNewConstMetric(channelSince, prometheus.GaugeValue, unix(c.Health.Since), in, kind)
		}
	}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
