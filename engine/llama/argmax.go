package llama

import "fmt"

// NextTokens runs ids through the model as one sequence (teacher forcing)
// and returns, for each position, the id of the highest logit that follows
// it: the greedy choice after every prefix. It is how two forms of a model
// (F32 and Q8_0, say) are compared token by token.
func (m *Model) NextTokens(ids []int32, threads int) ([]int32, error) {
	if len(ids) == 0 || len(ids) > m.Config.Context {
		return nil, fmt.Errorf("llama: %d ids; want 1..%d", len(ids), m.Config.Context)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= m.Config.Vocab {
			return nil, fmt.Errorf("llama: id %d at position %d is outside the vocabulary of %d", id, i, m.Config.Vocab)
		}
	}
	p := newPool(threads)
	defer p.close()
	r := &runner{m: m, pool: p}
	kv := newKVCache(m.Config, len(ids))
	out := make([]int32, len(ids))
	// Run in chunks so the logits buffer stays small.
	const chunk = 64
	for lo := 0; lo < len(ids); lo += chunk {
		hi := min(lo+chunk, len(ids))
		toks := make([]token, 0, hi-lo)
		for pos := lo; pos < hi; pos++ {
			toks = append(toks, token{id: ids[pos], pos: pos, kv: kv, logits: true})
		}
		lg := r.forward(toks)
		for i := range toks {
			out[lo+i] = argmax(lg[i*m.Config.Vocab : (i+1)*m.Config.Vocab])
		}
	}
	return out, nil
}
