package requester

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/hayek-market/hayek/internal/privatefs"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
)

// jobStore keeps finished jobs in a pebble database under <home>/jobs, so
// job history survives restarts while memory holds only live jobs and a
// few recent ones. Writes are not synced: a process crash loses nothing
// (the write has reached the OS), a machine crash may lose the last
// records of history — the ledger, not this store, is the durable record
// of money.
//
// Keys: "j/<id>" → JSON record; "t/<created ns, big-endian>/<id>" → state
// (newest-first listing, counts); "k/<idempotency key>" → id.
type jobStore struct {
	db *pebble.DB
}

type storedJob struct {
	Job    api.Job     `json:"job"`
	Result *api.Result `json:"result,omitempty"`
	Events []api.Event `json:"events"`
	Digest string      `json:"digest"`
	// For the job's audit:
	Spec   *market.JobSpec     `json:"spec,omitempty"`
	Signed []api.SignedMessage `json:"signed,omitempty"`
	Offers []api.OfferSeen     `json:"offers,omitempty"`
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

func openJobStore(dir string) (*jobStore, error) {
	db, err := pebble.Open(dir, &pebble.Options{FS: privatefs.Default, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("requester: open job store %s: %w (is another node using this home?)", dir, err)
	}
	return &jobStore{db: db}, nil
}

func (s *jobStore) close() error { return s.db.Close() }

func timeKey(created time.Time, id string) []byte {
	k := make([]byte, 0, 2+8+1+len(id))
	k = append(k, "t/"...)
	k = binary.BigEndian.AppendUint64(k, uint64(created.UnixNano()))
	k = append(k, '/')
	return append(k, id...)
}

func (s *jobStore) put(sj *storedJob) error {
	b, err := json.Marshal(sj)
	if err != nil {
		return err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	batch.Set([]byte("j/"+sj.Job.ID), b, nil)
	batch.Set(timeKey(sj.Job.CreatedAt, sj.Job.ID), []byte(sj.Job.State), nil)
	if sj.Job.IdempotencyKey != "" {
		batch.Set([]byte("k/"+sj.Job.Agent+"/"+sj.Job.IdempotencyKey), []byte(sj.Job.ID), nil)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("requester: store job %s: %w", sj.Job.ID, err)
	}
	return nil
}

func (s *jobStore) get(id string) (*storedJob, error) {
	v, closer, err := s.db.Get([]byte("j/" + id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("requester: read job %s: %w", id, err)
	}
	defer closer.Close()
	var sj storedJob
	if err := json.Unmarshal(v, &sj); err != nil {
		return nil, fmt.Errorf("requester: job store record %s is corrupt: %w", id, err)
	}
	return &sj, nil
}

func (s *jobStore) idem(key string) (string, error) {
	v, closer, err := s.db.Get([]byte("k/" + key))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer closer.Close()
	return string(v), nil
}

// list returns up to limit stored jobs, newest first, in state (any if "").
func (s *jobStore) list(state api.JobState, limit int) ([]api.Job, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("t/"), UpperBound: []byte("t0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []api.Job
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		k := it.Key()
		if len(k) < 11 || (state != "" && api.JobState(it.Value()) != state) {
			continue
		}
		sj, err := s.get(string(k[11:]))
		if err != nil || sj == nil {
			continue
		}
		if state == "" || api.JobState(it.Value()) == state {
			out = append(out, sj.Job)
		}
	}
	return out, it.Error()
}

// counts returns how many stored jobs are in each state.
func (s *jobStore) counts() (map[api.JobState]int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("t/"), UpperBound: []byte("t0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[api.JobState]int{}
	for ok := it.First(); ok; ok = it.Next() {
		out[api.JobState(it.Value())]++
	}
	return out, it.Error()
}
