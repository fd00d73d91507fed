package requester

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

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
