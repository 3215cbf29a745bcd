// Package deps holds the test that keeps kvet's package dependencies
// pointing one way (see DESIGN.md): it has no code of its own.
package deps
