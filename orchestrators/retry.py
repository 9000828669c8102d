"""Retry policies for activities: transient failures (a dropped connection, a 5xx) are retried on
durable timers; anything an activity can explain comes back as a result record instead."""

import azure.durable_functions as df

ACTIVITY_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=4)
# Staging restarts an unfinished blob from the start, so a retry costs a whole pass: retry less.
STAGE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=2)
