package deploy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp/localcluster/clustertest"
)

// TestApply renders each value set for a fresh namespace and applies every
// object to the real kube-apiserver with server-side apply and strict field
// validation: the apiserver checks each object against its schema, so a
// misspelt or misplaced field in a template fails here.
func TestApply(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			c := kubeClient(t)
			installServiceMonitorCRD(t, c)
			ns := clustertest.Namespace(t)
			release := fmt.Sprintf("onramp-%s-%04x", vs.name, rand.Uint32()&0xffff)
			objs := render(t, release, ns, vs.values)
			for _, obj := range objs.list {
				apply(t, c, obj)
			}
			d := &unstructured.Unstructured{}
			d.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: objs.name}, d); err != nil {
				t.Fatalf("read the Deployment back: %v", err)
			}
			checkPod(t, d) // nothing the pod's hardening says was dropped by the apiserver
		})
	}
}

// kubeClient is an admin client of the shared cluster.
func kubeClient(t testing.TB) client.Client {
	t.Helper()
	c, err := client.New(clustertest.Config(t), client.Options{})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// apply server-side applies obj with strict field validation; a
// cluster-scoped object is deleted when the test ends (namespaced ones go
// with the test's namespace).
func apply(t testing.TB, c client.Client, obj *unstructured.Unstructured) {
	t.Helper()
	if err := applyStrict(c, obj); err != nil {
		t.Fatal(err)
	}
	if obj.GetNamespace() == "" {
		t.Cleanup(func() {
			if err := c.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		})
	}
}

// applyStrict server-side applies obj with strict field validation.
func applyStrict(c client.Client, obj *unstructured.Unstructured) error {
	err := c.Patch(context.Background(), obj, client.Apply, client.FieldOwner("helm"), client.ForceOwnership, client.FieldValidation("Strict"))
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// serviceMonitorCRD is the part of the Prometheus Operator's ServiceMonitor
// CRD (monitoring.coreos.com/v1) that the chart uses, with a structural
// schema and no unknown fields preserved, so that strict validation checks
// the chart's ServiceMonitor field by field. The real CRD has more fields,
// never fewer of these.
const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [selector, endpoints]
              properties:
                selector:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                namespaceSelector:
                  type: object
                  properties:
                    any: {type: boolean}
                    matchNames: {type: array, items: {type: string}}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      scheme: {type: string}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                      scrapeTimeout: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
`

// crdOnce installs the ServiceMonitor CRD once per test binary; it stays
// until the binary's cluster stops.
var (
	crdOnce sync.Once
	crdErr  error
)

// installServiceMonitorCRD installs serviceMonitorCRD and waits until the
// apiserver serves it.
func installServiceMonitorCRD(t testing.TB, c client.Client) {
	t.Helper()
	crdOnce.Do(func() {
		objs, err := Decode([]byte(serviceMonitorCRD))
		if err != nil {
			crdErr = err
			return
		}
		crdErr = applyStrict(c, objs[0])
	})
	if crdErr != nil {
		t.Fatalf("install the ServiceMonitor CRD: %v", crdErr)
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitorList"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.List(context.Background(), list)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ServiceMonitor CRD is not served after 30 s: %v", err)
		}
		if !strings.Contains(err.Error(), "no matches") && !apierrors.IsNotFound(err) {
			t.Logf("waiting for the ServiceMonitor CRD: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
