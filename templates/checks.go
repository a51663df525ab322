package templates

import "github.com/onramp/onramp"

// guarded runs a preflight, turning a panic (kustomize on input it does not
// expect) into an EINVALID error: the same input would panic again, and a
// job must neither take the process down nor retry for nothing.
func guarded(run func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = onramp.Errorf(onramp.EINVALID, "kustomize failed on this template (%v); fix the template", v)
		}
	}()
	return run()
}
