// Package chattest helps test chat servers, as net/http/httptest helps test
// HTTP handlers: clients that speak the protocol, an in-memory listener for
// testing/synctest, a conformance suite every chapter runs, and (in
// property.go) the random-schedule harness that checks a chapter against the
// reference model in achat/model.
package chattest
