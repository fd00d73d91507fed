package discovery

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// finderMetrics count the finder's DHT lookups: each is one iterative
// provider-record query, however many hops it takes.
type finderMetrics struct {
	finds, found prometheus.Counter
}

func newFinderMetrics(reg prometheus.Registerer) finderMetrics {
	f := promauto.With(reg)
	return finderMetrics{
		finds: f.NewCounter(prometheus.CounterOpts{Name: "hayek_dht_provider_finds_total",
			Help: "DHT lookups of a capability's provider records this node started."}),
		found: f.NewCounter(prometheus.CounterOpts{Name: "hayek_dht_providers_found_total",
			Help: "Provider records those lookups returned."}),
	}
}

// advertiserMetrics count the advertiser's DHT puts, one per capability
// provided or reprovided.
type advertiserMetrics struct {
	provides *prometheus.CounterVec
}

func newAdvertiserMetrics(reg prometheus.Registerer) advertiserMetrics {
	m := advertiserMetrics{provides: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "hayek_dht_provides_total",
		Help: "Provider records this node put on the DHT (provides and reprovides), by result (ok, error)."},
		[]string{"result"})}
	m.provides.WithLabelValues("ok")
	m.provides.WithLabelValues("error")
	return m
}
