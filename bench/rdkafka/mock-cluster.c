/*
 * librdkafka's in-memory mock cluster as a stand-alone broker: the ceiling that `npm run bench` measures Shoal
 * against (the same clients and load, served by C code that keeps everything in memory and writes nothing).
 *
 *   mock-cluster [-n BROKERS] [-t TOPIC:PARTITIONS]...
 *
 * Prints `bootstrap HOST:PORT[,HOST:PORT...]` on stdout, then reads commands on stdin, one a line, answering
 * each with one line:
 *   create TOPIC PARTITIONS      ->  ok TOPIC   |  error TOPIC MESSAGE
 * (the mock broker does not implement the CreateTopics API, so topics are made through rd_kafka_mock_topic_create).
 * Runs until SIGINT or SIGTERM, or until its parent dies (Linux), whether or not stdin is closed.
 * Built by scripts/build-rdkafka-perf.sh.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal (int sig) {
  (void)sig;
  stopping = 1;
}

static int create_topic (rd_kafka_mock_cluster_t *mcluster, const char *topic, int partitions) {
  rd_kafka_resp_err_t err;
  if (partitions < 1) {
    printf("error %s partitions must be >= 1\n", topic);
    return -1;
  }
  err = rd_kafka_mock_topic_create(mcluster, topic, partitions, 1);
  if (err) {
    printf("error %s %s\n", topic, rd_kafka_err2str(err));
    return -1;
  }
  printf("ok %s\n", topic);
  return 0;
}

int main (int argc, char **argv) {
  char errstr[512];
  char line[1024];
  int brokers = 1;
  int opt;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mcluster;
  struct sigaction sa;

#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* The handle only does the mock cluster's book keeping; it never connects anywhere. */
  conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "mock-cluster: rd_kafka_new: %s\n", errstr);
    return 1;
  }

  while ((opt = getopt(argc, argv, "n:t:")) != -1) {
    if (opt == 'n') brokers = atoi(optarg);
  }
  if (brokers < 1) {
    fprintf(stderr, "usage: %s [-n BROKERS] [-t TOPIC:PARTITIONS]...\n", argv[0]);
    return 2;
  }
  mcluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mcluster) {
    fprintf(stderr, "mock-cluster: rd_kafka_mock_cluster_new failed\n");
    return 1;
  }

  optind = 1;
  while ((opt = getopt(argc, argv, "n:t:")) != -1) {
    if (opt == 't') {
      char *colon = strrchr(optarg, ':');
      if (!colon) {
        fprintf(stderr, "mock-cluster: -t wants TOPIC:PARTITIONS, got %s\n", optarg);
        return 2;
      }
      *colon = '\0';
      if (create_topic(mcluster, optarg, atoi(colon + 1)) != 0) return 1;
    }
  }

  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));

  while (!stopping && fgets(line, sizeof(line), stdin)) {
    char topic[512];
    int partitions;
    if (sscanf(line, "create %511s %d", topic, &partitions) == 2) create_topic(mcluster, topic, partitions);
    else if (line[0] != '\n') printf("error - unknown command\n");
  }
  while (!stopping) pause();

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
