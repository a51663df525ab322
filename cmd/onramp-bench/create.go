package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/store"
)

// createTo100 creates m.n three-environment projects one at a time and
// follows each one's event stream until the progress event says 100 (with
// -ready, until the phase event says ready: every Kustomization Ready at
// the pushed revision, by real Flux, and the floor is timed until the same).
// After each, the floor: the same 18 objects applied directly with
// kube.Client.ApplyEnvironment for the three environments (server-side
// apply, dependency checks, no onramp), pointing at the project's real
// repository with its real credential. Each project and each floor starts
// on an idle cluster: once Flux has made what came before it Ready, and
// its Flux objects are suspended so that no interval reconcile runs beside
// a measurement. The first project warms up and is not counted.
//
// "stream" is the client's view: POST sent → progress 100 read on the
// stream. "server" is onramp's own: the project's created_at → the stored
// time of its progress-100 event.
func (m *measurement) createTo100(ctx context.Context) (string, error) {
	db, err := store.Open(ctx, m.srv.databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	k, kc, err := m.clients()
	if err != nil {
		return "", err
	}
	to := map[bool]string{false: "100%", true: "Ready"}[m.ready]
	fmt.Printf("creating %d projects × 3 environments (%s) one at a time to %s, each followed by its floor…\n", m.n, m.template, to)
	var stream, server, floor []time.Duration
	phases := map[string][]time.Duration{}
	for i := 0; i <= m.n; i++ {
		name := fmt.Sprintf("c%03d-%06x", i, rand.Uint32()&0xffffff)
		st, err := m.createOne(ctx, name)
		if err != nil {
			return "", err
		}
		p, sv, err := serverTo100(ctx, db, name)
		if err != nil {
			return "", err
		}
		specs, err := floorSpecs(ctx, kc, p, "f"+name)
		if err != nil {
			return "", err
		}
		if err := settle(ctx, kc, name, specs); err != nil {
			return "", err
		}
		t0 := time.Now()
		for _, spec := range specs {
			if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
				return "", fmt.Errorf("floor: %w", err)
			}
		}
		if m.ready {
			if _, err := waitReady(ctx, kc, "f"+name, specs, 3*time.Minute); err != nil {
				return "", fmt.Errorf("floor: %w", err)
			}
		}
		fl := time.Since(t0)
		if err := settle(ctx, kc, "f"+name, specs); err != nil {
			return "", err
		}
		if i == 0 {
			fmt.Printf("warm-up: stream %s, server %s, floor %s\n", st, sv, fl)
			continue
		}
		stream, server, floor = append(stream, st), append(server, sv), append(floor, fl)
		steps(p, phases)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d projects × 3 environments, create → %s, idle cluster:\n", len(stream), to)
	fmt.Fprintf(&b, "  stream p50 %s p95 %s max %s\n", pct(stream, .5), pct(stream, .95), pct(stream, 1))
	fmt.Fprintf(&b, "  server (created → stored 100%%) p50 %s p95 %s max %s\n", pct(server, .5), pct(server, .95), pct(server, 1))
	fmt.Fprintf(&b, "  floor (3× ApplyEnvironment, 18 objects, to %s) p50 %s p95 %s max %s\n", to, pct(floor, .5), pct(floor, .95), pct(floor, 1))
	fmt.Fprintf(&b, "  ratio to the floor, p50: stream %.2f", float64(pct(stream, .5))/float64(pct(floor, .5)))
	if !m.ready {
		fmt.Fprintf(&b, ", server %.2f", float64(pct(server, .5))/float64(pct(floor, .5)))
	}
	b.WriteString("\n")
	var parts []string
	for _, name := range append(append([]string{"queue"}, stepNames()...), "gaps") {
		if d := phases[name]; len(d) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", name, pct(d, .5)))
		}
	}
	fmt.Fprintf(&b, "  where the time goes (medians of the recorded steps): %s\n", strings.Join(parts, ", "))
	return b.String(), nil
}

// createOne creates a three-environment project and follows its event
// stream to 100% (with -ready, to the phase ready), returning the time
// from the POST to reading that event.
func (m *measurement) createOne(ctx context.Context, name string) (time.Duration, error) {
	return m.create(ctx, name, projectBody(name, m.template, "development", "staging", "production"), m.ready)
}

// projectBody is the body of a create with the named environments, each of
// the type of its name.
func projectBody(name, template string, envs ...string) map[string]any {
	var es []map[string]string
	for _, e := range envs {
		es = append(es, map[string]string{"name": e, "type": e})
	}
	return map[string]any{"name": name, "template": template, "environments": es}
}

// create creates a project with body and follows its event stream to 100%
// (toReady: to the phase ready), returning the time from the POST to
// reading that event.
func (m *measurement) create(ctx context.Context, name string, body map[string]any, toReady bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	data, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if code, err := m.do(ctx, "POST", "/api/v1/projects", data); err != nil || code != http.StatusAccepted {
		return 0, fmt.Errorf("create %s: %d %v", name, code, err)
	}
	events, err := m.events(ctx, name)
	if err != nil {
		return 0, err
	}
	for e := range events {
		var d struct {
			Progress int          `json:"progress"`
			Phase    onramp.Phase `json:"phase"`
		}
		if json.Unmarshal([]byte(e.Data), &d) != nil {
			continue
		}
		if d.Phase == onramp.PhaseFailed {
			return 0, fmt.Errorf("%s failed: %s", name, e.Data)
		}
		if toReady && d.Phase == onramp.PhaseDegraded {
			fmt.Printf("%s went degraded on the way to ready: %s\n", name, e.Data)
		}
		if !toReady && (e.Type == onramp.EventSnapshot || e.Type == onramp.EventProgress) && d.Progress == 100 {
			return e.At.Sub(t0), nil
		}
		if toReady && (e.Type == onramp.EventSnapshot || e.Type == onramp.EventPhase) && d.Phase == onramp.PhaseReady {
			return e.At.Sub(t0), nil
		}
	}
	return 0, fmt.Errorf("%s: the stream ended before it got there (%v)", name, ctx.Err())
}

// events follows name's event stream until ctx ends.
func (m *measurement) events(ctx context.Context, name string) (<-chan testutil.Event, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", m.srv.url+"/api/v1/projects/"+name+"/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+m.srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("stream %s: %s", name, resp.Status)
	}
	return testutil.ReadEvents(ctx, resp.Body), nil
}

// clients are onramp's cluster client and a client of Flux's kinds, for
// the measurement's cluster.
func (m *measurement) clients() (*kube.Client, client.WithWatch, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", m.cluster.KubeconfigPath())
	if err != nil {
		return nil, nil, err
	}
	k, err := kube.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	kc, err := fluxClient(cfg)
	return k, kc, err
}

// fluxClient is a client of cfg's cluster that reads and watches Flux's
// kinds, without client-side rate limiting, as onramp's own client.
func fluxClient(cfg *rest.Config) (client.WithWatch, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// serverTo100 reads the project as stored and the time from its creation
// to its stored progress-100 event.
func serverTo100(ctx context.Context, db *store.DB, name string) (*onramp.Project, time.Duration, error) {
	p, err := db.ProjectByName(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	evs, err := db.Events(ctx, p.ID, 0, 1000)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range evs {
		var d struct{ Progress int }
		if json.Unmarshal(e.Data, &d) == nil && e.Type == onramp.EventProgress && d.Progress == 100 {
			return p, e.At.Sub(p.CreatedAt), nil
		}
	}
	return nil, 0, fmt.Errorf("%s: no progress-100 event stored", name)
}

// floorSpecs returns p's three environments under the project name
// floorName, with p's repository, revision and read credential (as the
// cluster's Secret holds it): what onramp applies, without onramp.
func floorSpecs(ctx context.Context, kc client.Client, p *onramp.Project, floorName string) ([]kube.EnvironmentSpec, error) {
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: p.Environments[0].Namespace, Name: p.Name + "-git"}
	if err := kc.Get(ctx, key, &secret); err != nil {
		return nil, fmt.Errorf("read the Git credential of %s: %w", p.Name, err)
	}
	var specs []kube.EnvironmentSpec
	for _, e := range p.Environments {
		specs = append(specs, kube.EnvironmentSpec{Project: floorName, Environment: e.Name, Type: e.Type, Path: e.Path,
			GitURL: p.Repository.URL, Branch: p.Repository.Branch, Username: onramp.GitReadUser,
			Password: string(secret.Data["password"]), Revision: p.Repository.Revision})
	}
	return specs, nil
}

// waitReady waits up to timeout until Flux has made project's
// Kustomizations Ready at the specs' revision, and returns how long that
// took or what was not Ready.
func waitReady(ctx context.Context, kc client.Client, project string, specs []kube.EnvironmentSpec, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		notReady := ""
		for _, spec := range specs {
			var ks kustomizev1.Kustomization
			key := client.ObjectKey{Namespace: onramp.Namespace(project, spec.Environment), Name: project}
			if err := kc.Get(ctx, key, &ks); err != nil {
				notReady = fmt.Sprintf("Kustomization %s: %v", key, err)
			} else if r := kube.Status(&ks, spec.Revision); r.Status != onramp.StatusReady {
				notReady = fmt.Sprintf("Kustomization %s %s %s %q", key, r.Status, r.Reason, r.Message)
			}
		}
		if notReady == "" {
			return time.Since(t0), nil
		}
		if time.Since(t0) > timeout {
			return 0, fmt.Errorf("%s not Ready within %s: %s", project, timeout, notReady)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// settle waits until Flux has made project's Kustomizations Ready at the
// specs' revision, then suspends its GitRepositories and Kustomizations
// and lets what Ready set off end, so that the next measurement starts on
// an idle cluster. A project that does not get Ready within a minute is
// reported, not measured: settling only lets Flux finish.
func settle(ctx context.Context, kc client.Client, project string, specs []kube.EnvironmentSpec) error {
	if _, err := waitReady(ctx, kc, project, specs, time.Minute); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Printf("did not settle: %v\n", err)
	}
	if err := suspend(ctx, kc, project, specs); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return nil
}

// suspend suspends the GitRepository and the Kustomization of each of
// project's environments.
func suspend(ctx context.Context, kc client.Client, project string, specs []kube.EnvironmentSpec) error {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspend":true}}`))
	for _, spec := range specs {
		key := client.ObjectKey{Namespace: onramp.Namespace(project, spec.Environment), Name: project}
		for _, obj := range []client.Object{&kustomizev1.Kustomization{}, &sourcev1.GitRepository{}} {
			obj.SetNamespace(key.Namespace)
			obj.SetName(key.Name)
			if err := kc.Patch(ctx, obj, patch); err != nil {
				return fmt.Errorf("suspend %T %s: %w", obj, key, err)
			}
		}
	}
	return nil
}

// steps adds where the time of p's initialization went to into phases:
// "queue" from the row's creation to the first step's start, each step's
// own duration, and "gaps" between steps.
func steps(p *onramp.Project, phases map[string][]time.Duration) {
	prev := p.CreatedAt
	var gaps time.Duration
	for i, s := range p.Steps {
		if s.StartedAt == nil || s.FinishedAt == nil {
			continue
		}
		if i == 0 {
			phases["queue"] = append(phases["queue"], s.StartedAt.Sub(prev))
		} else {
			gaps += s.StartedAt.Sub(prev)
		}
		phases[s.Name] = append(phases[s.Name], s.FinishedAt.Sub(*s.StartedAt))
		prev = *s.FinishedAt
	}
	phases["gaps"] = append(phases["gaps"], gaps)
}

func stepNames() []string {
	var names []string
	for _, s := range onramp.InitSteps {
		names = append(names, s.Name)
	}
	return names
}
