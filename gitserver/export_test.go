package gitserver

// SetDurable replaces, for a test, what makes the repositories' writes
// durable, and returns what restores it.
func SetDurable(f func(root string) error) (restore func()) {
	old := durable
	durable = f
	return func() { durable = old }
}
