package engine

import (
	"math"
	"sort"

	"agent-tui/engine/config"
	"agent-tui/store"
)

// Stats is what `agent-tui stats` reports.
type Stats struct {
	TotalUSD     float64               `json:"total_usd"`
	TopTierModel string                `json:"top_tier_model"`
	TopTierUSD   float64               `json:"top_tier_usd"`
	Spend        []SpendRow            `json:"spend"`
	PassRate     map[string][]PassRate `json:"pass_rate"`
}

type SpendRow struct {
	Phase     string  `json:"phase"`
	Model     string  `json:"model"`
	Attempts  int     `json:"attempts"` // attempts (or validator sessions) this model served, each of one or more calls
	Calls     int     `json:"calls"`    // the same number, under the name it first had (kept for scripts)
	TokensIn  int     `json:"tokens_in"`
	TokensOut int     `json:"tokens_out"`
	CostUSD   float64 `json:"cost_usd"`
}

// PassRate is the share of judged attempts number N of a phase that passed:
// the data to tune max_attempts on.
type PassRate struct {
	Attempt int     `json:"attempt"`
	Passed  int     `json:"passed"`
	Judged  int     `json:"judged"`
	Rate    float64 `json:"rate"`
}

// ComputeStats reads every attempt once; a nil store has none.
func ComputeStats(st *store.Store, cfg *config.Config) (*Stats, error) {
	s := &Stats{PassRate: map[string][]PassRate{}}
	var totalIn, totalOut int
	spend := map[[2]string]*SpendRow{}
	add := func(phase, model string, in, out int, cost float64, attempt bool) {
		if model == "" || in == 0 && out == 0 && math.Abs(cost) < 1e-12 { // a float residue is no spend
			return // no model answered: nothing was spent on it
		}
		k := [2]string{phase, model}
		r := spend[k]
		if r == nil {
			r = &SpendRow{Phase: phase, Model: model}
			spend[k] = r
		}
		if attempt {
			r.Attempts++
			r.Calls = r.Attempts
		}
		r.TokensIn += in
		r.TokensOut += out
		r.CostUSD += cost
		s.TotalUSD += cost
		totalIn, totalOut = totalIn+in, totalOut+out
	}
	rates := map[string]map[int]*PassRate{}
	err := viewOrNothing(st, func(tx *store.Tx) error {
		tickets, err := tx.Tickets()
		if err != nil {
			return err
		}
		for _, t := range tickets {
			attempts, err := tx.Attempts(t.ID)
			if err != nil {
				return err
			}
			for _, a := range attempts {
				// each half-answered call under its own model, the rest
				// under the model that answered
				session := func(phase, model string, in, out int, cost float64, wasted, served []store.Spend) {
					for _, w := range wasted {
						add(phase, w.Model, w.TokensIn, w.TokensOut, w.CostUSD, false)
						in, out, cost = in-w.TokensIn, out-w.TokensOut, cost-w.CostUSD
					}
					// each model that served some of its calls served
					// the attempt (records from before Served: the last)
					for _, sv := range served {
						add(phase, sv.Model, sv.TokensIn, sv.TokensOut, sv.CostUSD, true)
						in, out, cost = in-sv.TokensIn, out-sv.TokensOut, cost-sv.CostUSD
					}
					add(phase, model, in, out, cost, len(served) == 0)
				}
				if a.Model != "human" {
					session(a.Phase, a.Model, a.TokensIn, a.TokensOut, a.CostUSD, a.Wasted, a.Served)
				}
				if v := a.Validator; v != nil {
					session(config.Validator, v.Model, v.TokensIn, v.TokensOut, v.CostUSD, v.Wasted, v.Served)
				}
				if a.Verdict == nil || a.Interrupted || a.Verdict.By == "human" {
					continue
				}
				m := rates[a.Phase]
				if m == nil {
					m = map[int]*PassRate{}
					rates[a.Phase] = m
				}
				n := a.Try // the number max_attempts counts
				if n == 0 {
					n = a.N
				}
				r := m[n]
				if r == nil {
					r = &PassRate{Attempt: n}
					m[n] = r
				}
				r.Judged++
				if a.Verdict.Pass {
					r.Passed++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if top, ok := cfg.DearestFor(totalIn, totalOut); ok {
		s.TopTierModel, s.TopTierUSD = top.Name, top.Cost(totalIn, totalOut)
	}
	for _, r := range spend {
		s.Spend = append(s.Spend, *r)
	}
	sort.Slice(s.Spend, func(i, j int) bool {
		if s.Spend[i].Phase != s.Spend[j].Phase {
			return s.Spend[i].Phase < s.Spend[j].Phase
		}
		return s.Spend[i].Model < s.Spend[j].Model
	})
	for phase, m := range rates {
		var list []PassRate
		for _, r := range m {
			r.Rate = float64(r.Passed) / float64(r.Judged)
			list = append(list, *r)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Attempt < list[j].Attempt })
		s.PassRate[phase] = list
	}
	if s.Spend == nil {
		s.Spend = []SpendRow{}
	}
	return s, nil
}

func viewOrNothing(st *store.Store, fn func(*store.Tx) error) error {
	if st == nil {
		return nil
	}
	return st.View(fn)
}
