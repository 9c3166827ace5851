package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// fill sets every field reachable from v to a value that is not zero, with
// strings that need escaping, so a decoder that skips or mangles any field
// of the records differs from encoding/json.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("é \"q\" \\ \n\t <&> \u2028 ✓ " + string(rune('a'+seed%26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(seed*7919 + 1))
	case reflect.Float64:
		v.SetFloat(float64(seed) + 0.125)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), seed+i+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(k, seed+i)
			fill(e, seed+i+5)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 30, 9, 0, seed, 123456789, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	}
}

// The store decodes records with go-json for speed; every field must come
// back exactly as encoding/json (which wrote them) reads them.
func TestRecordsDecodeAsEncodingJSONDoes(t *testing.T) {
	s, _ := openTemp(t)
	var tk Ticket
	fill(reflect.ValueOf(&tk).Elem(), 3)
	tk.ID, tk.Status = "", StatusRunning
	if err := s.CreateTicket(&tk); err != nil {
		t.Fatal(err)
	}
	var a Attempt
	fill(reflect.ValueOf(&a).Elem(), 11)
	if err := s.PutAttempt(tk.ID, &a); err != nil {
		t.Fatal(err)
	}
	var rawTicket, rawAttempt []byte
	err := s.View(func(tx *Tx) error {
		rawTicket = append([]byte(nil), tx.tx.Bucket(bucketTickets).Get(key(1))...)
		return tx.tx.Bucket(bucketAttempts).ForEachBucket(func(k []byte) error {
			return tx.tx.Bucket(bucketAttempts).Bucket(k).ForEach(func(_, v []byte) error {
				rawAttempt = append([]byte(nil), v...)
				return nil
			})
		})
	})
	if err != nil || rawTicket == nil || rawAttempt == nil {
		t.Fatalf("raw records: %v", err)
	}
	var wantT Ticket
	var wantA Attempt
	if err := json.Unmarshal(rawTicket, &wantT); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rawAttempt, &wantA); err != nil {
		t.Fatal(err)
	}
	one, err := s.Ticket(tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Tickets()
	if err != nil || len(all) != 1 {
		t.Fatalf("%v %d", err, len(all))
	}
	as, err := s.Attempts(tk.ID)
	if err != nil || len(as) != 1 {
		t.Fatalf("%v %d", err, len(as))
	}
	for name, got := range map[string]any{"Ticket": *one, "Tickets": *all[0]} {
		if !reflect.DeepEqual(got, wantT) {
			t.Fatalf("%s decodes differently:\n%+v\nwant\n%+v", name, got, wantT)
		}
	}
	if !reflect.DeepEqual(*as[0], wantA) {
		t.Fatalf("Attempts decodes differently:\n%+v\nwant\n%+v", *as[0], wantA)
	}
	if wantT.Title != tk.Title || len(wantT.TestFiles) != 2 || len(wantA.Checks) != 2 || wantA.Verdict == nil {
		t.Fatalf("the record lost fields: %+v", wantT)
	}
}
