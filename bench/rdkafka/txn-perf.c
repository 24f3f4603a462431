/*
 * Transactional produce load for `npm run bench` (rdkafka_performance has no transaction mode): one librdkafka
 * producer, two modes over the same code path.
 *
 *   txn-perf -b BROKERS -t TOPIC -m idempotent|transactional [-s SIZE] [-c COUNT] [-n PER_TXN] [-p PARTITIONS]
 *            [-T TRANSACTIONAL_ID] [-X PROP=VALUE]...
 *
 *   idempotent     enable.idempotence=true, acks=all; COUNT records, then a flush.
 *   transactional  the same, plus transactional.id: init_transactions, then begin / PER_TXN records / commit until
 *                  COUNT records are sent (the last transaction holds the remainder).
 *
 * Both modes: records of SIZE bytes (a repeated text pattern, copied by librdkafka, no key); with -p PARTITIONS
 * the records go round-robin to partitions 0..PARTITIONS-1, else to librdkafka's partitioner. -X sets any
 * librdkafka property in both modes (the bench passes linger.ms); enable.idempotence, acks and transactional.id
 * are set after them. Defaults: SIZE 100, COUNT 100000, PER_TXN 1000, TRANSACTIONAL_ID txn-perf-PID-TIME.
 *
 * Prints once a second `progress sent=N delivered=N transactions=N elapsed_ms=N`, and at the end one line:
 *   result mode=transactional records=300000 bytes=30000000 seconds=0.412345 records_per_sec=727545
 *     mb_per_sec=72.75 transactions=300 failed=0 commit_seconds=0.120000 init_seconds=0.010000 complete=1
 * records: records acknowledged; bytes: their payload bytes; seconds: from the first produce call to the last
 * acknowledgement (the last commit in transactional mode; init_transactions is before, in init_seconds);
 * mb_per_sec: 10^6 payload bytes per second (as rdkafka_performance's MB/s); commit_seconds: time spent in
 * rd_kafka_commit_transaction (it flushes the transaction's records, then ends it).
 * SIGINT or SIGTERM stops the run: the records in flight are waited for (a transaction open is aborted), the
 * result line says complete=0, and the exit status is 3. Any error is printed on stderr, exit status 1 (2: usage).
 * Built by scripts/build-rdkafka-perf.sh into bench/.build/txn-perf.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal (int sig) {
  (void)sig;
  stopping = 1;
}

static long long delivered = 0;
static long long delivered_bytes = 0;
static long long failed = 0;
static double last_delivery = 0;
static char first_error[512] = "";

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_delivery (rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
  (void)rk;
  (void)opaque;
  if (message->err) {
    if (failed++ == 0) snprintf(first_error, sizeof(first_error), "%s", rd_kafka_err2str(message->err));
    return;
  }
  delivered++;
  delivered_bytes += (long long)message->len;
  last_delivery = now();
}

static void usage (const char *self) {
  fprintf(stderr,
    "usage: %s -b BROKERS -t TOPIC -m idempotent|transactional [-s SIZE] [-c COUNT] [-n PER_TXN] [-p PARTITIONS]\n"
    "          [-T TRANSACTIONAL_ID] [-X PROP=VALUE]...\n", self);
  exit(2);
}

static void conf_set (rd_kafka_conf_t *conf, const char *name, const char *value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "txn-perf: %s=%s: %s\n", name, value, errstr);
    exit(2);
  }
}

/* Prints a transaction API error and exits 1 (after destroying the error). */
static void txn_fail (const char *what, rd_kafka_error_t *error) {
  fprintf(stderr, "txn-perf: %s: %s: %s%s%s%s\n", what, rd_kafka_error_name(error), rd_kafka_error_string(error),
    rd_kafka_error_is_fatal(error) ? " (fatal)" : "",
    rd_kafka_error_is_retriable(error) ? " (retriable)" : "",
    rd_kafka_error_txn_requires_abort(error) ? " (abortable)" : "");
  rd_kafka_error_destroy(error);
  exit(1);
}

/* The commit, retried while librdkafka says the error is retriable (as its documentation asks), 3 tries. */
static void commit (rd_kafka_t *rk) {
  int attempt;
  for (attempt = 1;; attempt++) {
    rd_kafka_error_t *error = rd_kafka_commit_transaction(rk, 60000);
    if (!error) return;
    if (rd_kafka_error_is_retriable(error) && attempt < 3) {
      rd_kafka_error_destroy(error);
      continue;
    }
    txn_fail("commit_transaction", error);
  }
}

int main (int argc, char **argv) {
  const char *brokers = NULL;
  const char *topic = NULL;
  const char *mode = NULL;
  const char *txn_id = NULL;
  char default_txn_id[128];
  long long size = 100;
  long long count = 100000;
  long long per_txn = 1000;
  int partitions = 0;
  int transactional;
  int opt;
  int in_txn = 0;
  char errstr[512];
  char *payload;
  long long sent = 0;
  long long in_this_txn = 0;
  long long transactions = 0;
  double started, init_started, init_seconds = 0, commit_seconds = 0, next_progress, seconds;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  struct sigaction sa;

  setvbuf(stdout, NULL, _IOLBF, 0);
  conf_set(conf, "log_level", "3");
  while ((opt = getopt(argc, argv, "b:t:m:s:c:n:p:T:X:")) != -1) {
    switch (opt) {
      case 'b': brokers = optarg; break;
      case 't': topic = optarg; break;
      case 'm': mode = optarg; break;
      case 's': size = atoll(optarg); break;
      case 'c': count = atoll(optarg); break;
      case 'n': per_txn = atoll(optarg); break;
      case 'p': partitions = atoi(optarg); break;
      case 'T': txn_id = optarg; break;
      case 'X': {
        char *eq = strchr(optarg, '=');
        if (!eq) usage(argv[0]);
        *eq = '\0';
        conf_set(conf, optarg, eq + 1);
        break;
      }
      default: usage(argv[0]);
    }
  }
  if (!brokers || !topic || !mode || optind != argc || size < 0 || count < 1 || per_txn < 1 || partitions < 0) usage(argv[0]);
  if (strcmp(mode, "transactional") == 0) transactional = 1;
  else if (strcmp(mode, "idempotent") == 0) transactional = 0;
  else usage(argv[0]);

  conf_set(conf, "bootstrap.servers", brokers);
  conf_set(conf, "enable.idempotence", "true");
  conf_set(conf, "acks", "all");
  if (transactional) {
    if (!txn_id) {
      snprintf(default_txn_id, sizeof(default_txn_id), "txn-perf-%d-%ld", (int)getpid(), (long)time(NULL));
      txn_id = default_txn_id;
    }
    conf_set(conf, "transactional.id", txn_id);
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "txn-perf: rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (!rkt) {
    fprintf(stderr, "txn-perf: rd_kafka_topic_new: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
    return 1;
  }

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  payload = malloc(size > 0 ? (size_t)size : 1);
  if (!payload) {
    fprintf(stderr, "txn-perf: out of memory\n");
    return 1;
  }
  {
    static const char pattern[] = "txn-perf payload 0123456789abcdefghijklmnopqrstuvwxyz ";
    long long i;
    for (i = 0; i < size; i++) payload[i] = pattern[i % (sizeof(pattern) - 1)];
  }

  if (transactional) {
    rd_kafka_error_t *error;
    init_started = now();
    error = rd_kafka_init_transactions(rk, 30000);
    if (error) txn_fail("init_transactions", error);
    init_seconds = now() - init_started;
  }

  started = now();
  next_progress = started + 1;
  while (sent < count && !stopping) {
    rd_kafka_resp_err_t err;
    int32_t partition = partitions > 0 ? (int32_t)(sent % partitions) : RD_KAFKA_PARTITION_UA;
    if (transactional && !in_txn) {
      rd_kafka_error_t *error = rd_kafka_begin_transaction(rk);
      if (error) txn_fail("begin_transaction", error);
      in_txn = 1;
      in_this_txn = 0;
    }
    if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, payload, (size_t)size, NULL, 0, NULL) == -1) {
      err = rd_kafka_last_error();
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 1);
        continue;
      }
      fprintf(stderr, "txn-perf: produce: %s\n", rd_kafka_err2str(err));
      return 1;
    }
    sent++;
    rd_kafka_poll(rk, 0);
    if (transactional && (++in_this_txn == per_txn || sent == count)) {
      double commit_started = now();
      commit(rk);
      commit_seconds += now() - commit_started;
      in_txn = 0;
      transactions++;
    }
    if (failed > 0) {
      fprintf(stderr, "txn-perf: delivery failed: %s\n", first_error);
      return 1;
    }
    if ((sent & 1023) == 0 && now() >= next_progress) {
      printf("progress sent=%lld delivered=%lld transactions=%lld elapsed_ms=%lld\n", sent, delivered, transactions,
        (long long)((now() - started) * 1000));
      next_progress += 1;
    }
  }

  if (stopping && in_txn) {
    rd_kafka_error_t *error = rd_kafka_abort_transaction(rk, 30000);
    if (error) txn_fail("abort_transaction", error);
  } else {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 60000);
    if (err) {
      fprintf(stderr, "txn-perf: flush: %s (%d in queue)\n", rd_kafka_err2str(err), rd_kafka_outq_len(rk));
      return 1;
    }
  }
  if (failed > 0 && !stopping) {
    fprintf(stderr, "txn-perf: delivery failed (%lld records): %s\n", failed, first_error);
    return 1;
  }
  /* Transactional mode ends at the last commit, which returns once the records are acknowledged and the
   * transaction ended; idempotent mode at the last acknowledgement. */
  seconds = (transactional ? now() : (delivered > 0 ? last_delivery : now())) - started;
  if (seconds <= 0) seconds = 1e-9;
  printf("result mode=%s records=%lld bytes=%lld seconds=%.6f records_per_sec=%.0f mb_per_sec=%.2f transactions=%lld "
    "failed=%lld commit_seconds=%.6f init_seconds=%.6f complete=%d\n",
    transactional ? "transactional" : "idempotent", delivered, delivered_bytes, seconds, (double)delivered / seconds,
    (double)delivered_bytes / seconds / 1e6, transactions, failed, commit_seconds, init_seconds,
    stopping || delivered < count ? 0 : 1);

  free(payload);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return stopping ? 3 : 0;
}
