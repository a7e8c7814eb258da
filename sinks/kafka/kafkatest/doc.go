// Package kafkatest holds test helpers for the Kafka sink: an in-process
// Kafka-protocol broker (franz-go's kfake, the broker the devbroker command
// runs), a consumer that reads a topic back whole (kafka-go, and kcat), a TCP
// proxy that can cut and restore the path to a broker without losing its
// state, and the address of the services broker from NUNCHI_TEST_KAFKA.
// Only tests import it.
package kafkatest
