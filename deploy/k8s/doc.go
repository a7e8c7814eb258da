// Package k8s holds no code: it is the Kubernetes DaemonSet of the sensor
// (namespace, service account, config map, DaemonSet on the host network
// with CAP_NET_RAW and CAP_NET_ADMIN). Its tests parse the manifests and
// check the properties the deployment guide promises, and load the config
// map's config and rules with the sensor's own loaders.
package k8s
