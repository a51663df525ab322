package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
)

// stamp is when a status was seen.
type stamp struct {
	status onramp.ResourceStatus
	at     time.Time
}

// freshness makes a one-environment project Ready, then moves its
// Kustomization's spec.path to a missing directory and back, m.n times,
// each with reconcile.fluxcd.io/requestedAt. For every change it stamps
// three moments: a watch of the Kustomization in this program sees Flux's
// new condition (the status onramp must report: failed, then ready); the
// resource event with that status arrives on the project's event stream;
// a GET of the project, polled every 10 ms, shows it.
func (m *measurement) freshness(ctx context.Context) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", m.cluster.KubeconfigPath())
	if err != nil {
		return "", err
	}
	kc, err := fluxClient(cfg)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("fresh-%06x", rand.Uint32()&0xffffff)
	fmt.Printf("making a one-environment project (%s) Ready…\n", m.template)
	if _, err := m.create(ctx, name, projectBody(name, m.template, "development"), true); err != nil {
		return "", err
	}
	var p onramp.Project
	if code, err := m.call(ctx, "GET", "/api/v1/projects/"+name, nil, &p); err != nil || code != http.StatusOK {
		return "", fmt.Errorf("get %s: %d %v", name, code, err)
	}
	ns, goodPath := p.Environments[0].Namespace, p.Environments[0].Path
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	flux, err := watchFlux(ctx, kc, ns, name)
	if err != nil {
		return "", err
	}
	stream, err := m.streamStatus(ctx, name)
	if err != nil {
		return "", err
	}
	api := m.pollStatus(ctx, name)

	fmt.Printf("changing its Kustomization %d times…\n", m.n)
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	var toStream, toAPI, fluxTook []time.Duration
	for i := range m.n {
		target, path := onramp.StatusFailed, "./deploy/overlays/moved"
		if i%2 == 1 {
			target, path = onramp.StatusReady, goodPath
		}
		patch := fmt.Sprintf(`{"spec":{"path":%q},"metadata":{"annotations":{%q:%q}}}`, path, kube.AnnotationReconcileRequest, time.Now().Format(time.RFC3339Nano))
		t0 := time.Now()
		if err := kc.Patch(ctx, ks, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return "", err
		}
		var tf, ts, ta time.Time
		deadline := time.After(2 * time.Minute)
		for tf.IsZero() || ts.IsZero() || ta.IsZero() {
			select {
			case e := <-flux:
				if e.status == target && tf.IsZero() {
					tf = e.at
				}
			case e := <-stream:
				if e.status == target && ts.IsZero() {
					ts = e.at
				}
			case e := <-api:
				if e.status == target && ta.IsZero() {
					ta = e.at
				}
			case <-deadline:
				return "", fmt.Errorf("change %d to %s: flux %v, stream %v, api %v (false = not seen in 2 minutes)", i, target, !tf.IsZero(), !ts.IsZero(), !ta.IsZero())
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		toStream, toAPI, fluxTook = append(toStream, ts.Sub(tf)), append(toAPI, ta.Sub(tf)), append(fluxTook, tf.Sub(t0))
	}
	return fmt.Sprintf("\nstatus freshness over %d changes (Flux's condition seen by a watch → visible):\n"+
		"  event stream p50 %s p99 %s max %s min %s\n  GET (10 ms polling) p50 %s p99 %s max %s min %s\n"+
		"  (Flux itself: patch → condition p50 %s p99 %s)\n",
		len(toStream), pct(toStream, .5), pct(toStream, .99), pct(toStream, 1), pct(toStream, 0),
		pct(toAPI, .5), pct(toAPI, .99), pct(toAPI, 1), pct(toAPI, 0), pct(fluxTook, .5), pct(fluxTook, .99)), nil
}

// watchFlux stamps each change of the status of the Kustomization ns/name
// as Flux writes it, seen by a watch of this program's own.
func watchFlux(ctx context.Context, kc client.WithWatch, ns, name string) (<-chan stamp, error) {
	w, err := kc.Watch(ctx, &kustomizev1.KustomizationList{}, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	ch := make(chan stamp, 1000)
	go func() {
		defer w.Stop()
		last := onramp.ResourceStatus("")
		for ev := range w.ResultChan() {
			ks, ok := ev.Object.(*kustomizev1.Kustomization)
			if !ok || ks.Name != name {
				continue
			}
			if r := kube.Status(ks, ks.Annotations[kube.AnnotationRevision]); r.Status != last {
				last = r.Status
				send(ctx, ch, stamp{r.Status, time.Now()})
			}
		}
	}()
	return ch, nil
}

// streamStatus stamps each resource event of the project's Kustomization
// on its event stream.
func (m *measurement) streamStatus(ctx context.Context, name string) (<-chan stamp, error) {
	events, err := m.events(ctx, name)
	if err != nil {
		return nil, err
	}
	ch := make(chan stamp, 1000)
	go func() {
		for e := range events {
			var r onramp.Resource
			if e.Type == onramp.EventResource && json.Unmarshal([]byte(e.Data), &r) == nil && r.Kind == onramp.KindKustomization {
				send(ctx, ch, stamp{r.Status, e.At})
			}
		}
	}()
	return ch, nil
}

// pollStatus GETs the project every 10 ms and stamps each change of its
// Kustomization's status.
func (m *measurement) pollStatus(ctx context.Context, name string) <-chan stamp {
	ch := make(chan stamp, 1000)
	go func() {
		last := onramp.ResourceStatus("")
		for ctx.Err() == nil {
			var p onramp.Project
			if code, err := m.call(ctx, "GET", "/api/v1/projects/"+name, nil, &p); err == nil && code == http.StatusOK {
				for _, r := range p.GitOps.Resources {
					if r.Kind == onramp.KindKustomization && r.Status != last {
						last = r.Status
						send(ctx, ch, stamp{r.Status, time.Now()})
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return ch
}

func send(ctx context.Context, ch chan<- stamp, s stamp) {
	select {
	case ch <- s:
	case <-ctx.Done():
	}
}
