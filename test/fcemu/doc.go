// Package fcemu emulates the Function Compute 3.0 runtime API that a go1
// function built on github.com/aliyun/fc-runtime-go-sdk (v0.3.1) talks to,
// so that tests and the bench drive the real function binary through the
// SDK's own invoke loop: start it, invoke it (events and lifecycle calls,
// concurrently), read its answers and logs, time its cold start.
//
// It follows the SDK's fc/runtime_api_client.go and fc/invoke_loop.go: GET
// …/next hands out one queued invocation with the headers FC sends, POST
// …/{requestId}/response and …/error complete it; the process gets
// FC_RUNTIME_API, the FC_* variables and, with Config.Credentials, the
// ALIBABA_CLOUD_* ones, and little of the host's environment, so host
// credentials cannot leak into a test. With Config.Initializer, Start runs
// the initializer before it returns, as FC does before it routes a request
// to a new instance. README.md lists what is emulated and what is not, with
// an example.
package fcemu
