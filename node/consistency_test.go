package node

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestCloneJobSharesNothing fills every field of a job view, clones it and
// checks that no pointer or slice of the clone points into the original:
// a snapshot handed to the API must not race with the job's goroutine.
func TestCloneJobSharesNothing(t *testing.T) {
	var v api.Job
	fill(reflect.ValueOf(&v).Elem())
	c := cloneJob(v)
	if !reflect.DeepEqual(v, c) {
		t.Fatalf("clone differs from the original:\n%+v\n%+v", v, c)
	}
	orig := map[uintptr]string{}
	addrs(reflect.ValueOf(v), "job", orig)
	got := map[uintptr]string{}
	addrs(reflect.ValueOf(c), "job", got)
	for a, path := range got {
		if o, ok := orig[a]; ok {
			t.Errorf("clone's %s shares memory with the original's %s: copy it in cloneJob", path, o)
		}
	}
}

// fill sets every field reachable from v to a non-zero value, with one
// element in every slice.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}

// addrs records the address of every pointer target and slice backing
// array reachable from v.
func addrs(v reflect.Value, path string, out map[uintptr]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out[v.Pointer()] = path
			addrs(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				addrs(v.Field(i), path+"."+v.Type().Field(i).Name, out)
			}
		}
	case reflect.Slice:
		if v.Len() > 0 {
			out[uintptr(unsafe.Pointer(v.Index(0).UnsafeAddr()))] = path
			for i := 0; i < v.Len(); i++ {
				addrs(v.Index(i), path+"[]", out)
			}
		}
	case reflect.Map:
		if !v.IsNil() {
			out[v.Pointer()] = path
		}
	}
}

// TestStateAndResultChangeTogether polls jobs as fast as it can while
// several run: whenever a job reads completed, its result must be there,
// and a listing must never lose a job between memory and the store.
func TestStateAndResultChangeTogether(t *testing.T) {
	d := startDevnet(t, 3, nil)
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	const jobs, inFlight = 24, 8
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	submitted := make(chan string, jobs)
	for i := 0; i < jobs; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
			if err != nil {
				errs <- err
				return
			}
			submitted <- j.ID
			for {
				v, err := c.Job(ctx, j.ID)
				if err != nil {
					errs <- err
					return
				}
				if v.State.Terminal() {
					if v.State != api.StateCompleted {
						errs <- fmt.Errorf("job %s ended %s: %+v", j.ID, v.State, v.Error)
						return
					}
					if _, err := c.Result(ctx, j.ID); err != nil {
						errs <- fmt.Errorf("job %s reads completed but its result: %v", j.ID, err)
					}
					return
				}
			}
		}()
	}
	// Meanwhile, every submitted job must show in every listing.
	stop := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		var ids []string
		for {
			select {
			case <-stop:
				listed <- nil
				return
			case id := <-submitted:
				ids = append(ids, id)
				continue
			default:
			}
			all, err := c.Jobs(ctx, api.JobFilter{Limit: 1000})
			if err != nil {
				listed <- err
				return
			}
			have := map[string]bool{}
			for _, j := range all {
				have[j.ID] = true
			}
			for _, id := range ids {
				if !have[id] {
					listed <- fmt.Errorf("job %s missing from the listing", id)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-listed; err != nil {
		t.Error(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
