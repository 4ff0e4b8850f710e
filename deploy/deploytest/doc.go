// Package deploytest checks the files in deploy/ against the code they
// deploy. It has no code of its own outside its tests, which `make test`
// runs with every other package:
//
//   - every file in deploy/ is parsed: the TOML configurations with
//     config.Load (they must pass the gateway's validation), the YAML with a
//     YAML library, the systemd units with a small INI reader and the
//     Dockerfile line by line; a file that no test reads fails the suite;
//   - the ports the Dockerfile exposes, compose publishes and Kubernetes
//     names in containerPort, probes and Service are the listen and
//     [admin] listen of the configuration each ships with;
//   - the flags, subcommands, probe paths, signals and exit statuses they
//     use are read from the Go source (cmd/nanogate, admin,
//     backend-sdk/go/cmd/demo-worker), not written down a second time here;
//   - the grace periods exceed the configuration's shutdown_timeout;
//   - unless -short, each topology (compose, the Kubernetes pod, the
//     systemd units) runs for real: the gateway and the workers built from
//     this tree, started with the arguments the files give them, sockets
//     moved to a temporary directory and ports to loopback port 0. The
//     readiness probe must fail without a worker and pass with one, a
//     request must reach a worker, the reload signal must reload and the
//     stop signal must drain and exit 0.
package deploytest
