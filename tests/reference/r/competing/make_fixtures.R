# Reference outputs of R survival::survfit for a multi-state (competing risks) status:
# survfit(Surv(time, factor(status, levels = 0:K)) ~ 1) is the Aalen-Johansen estimator.
# Run from this directory: Rscript make_fixtures.R   (R 4.x, survival 3.5-3 recorded)
# Writes <name>_data.csv (time, status) and <name>_survfit.csv (one row per distinct time:
# time, n_risk, events_<k>, censored, pstate_<k>, std_err_<k>, lower_<k>, upper_<k> for k = 1..K).
library(survival)
RNGkind("Mersenne-Twister", "Inversion", "Rejection")

datasets <- list()
set.seed(20261)
n <- 60  # ties: times on a half-day grid, events at time 0
datasets$ties <- data.frame(time = round(rexp(n, 0.3) * 2) / 2,
                            status = sample(0:2, n, replace = TRUE, prob = c(.3, .4, .3)))
set.seed(20262)
n <- 50  # three causes
datasets$three_causes <- data.frame(time = round(rweibull(n, 1.5, 5), 1),
                                    status = sample(0:3, n, replace = TRUE))
set.seed(20263)
datasets$all_censored <- data.frame(time = round(runif(12, 0, 10)), status = 0L)
set.seed(20264)
n <- 40  # no competing event: the cumulative incidence is 1 - Kaplan-Meier
datasets$no_competing <- data.frame(time = round(rexp(n, 0.2)),
                                    status = sample(0:1, n, replace = TRUE, prob = c(.4, .6)))
# everybody still at risk fails at the last time (all-cause hazard 1 there)
datasets$all_fail_last <- data.frame(time = c(1, 2, 2, 3, 4, 4, 5, 6, 6, 6),
                                     status = c(1, 0, 2, 1, 2, 1, 0, 1, 2, 1))
set.seed(20265)
n <- 400  # registry-like: fractures (1) against deaths (2), censoring by loss to follow-up
tf <- rexp(n, 0.12); td <- rexp(n, 0.08); tc <- runif(n, 0, 3)
time <- pmin(tf, td, tc)
datasets$registry <- data.frame(time = round(time * 365),
                                status = ifelse(time == tc, 0L, ifelse(time == tf, 1L, 2L)))

for (name in names(datasets)) {
  d <- datasets[[name]]
  K <- 3L
  if (name != "three_causes") K <- 2L
  write.csv(d, paste0(name, "_data.csv"), row.names = FALSE)
  fit <- survfit(Surv(time, factor(status, levels = 0:K)) ~ 1, data = d)
  out <- data.frame(time = fit$time, n_risk = fit$n.risk[, 1])
  # n.event has one column per state; the first is the initial state (no transitions into it)
  for (k in 1:K) out[[paste0("events_", k)]] <- fit$n.event[, k + 1]
  out$censored <- fit$n.censor
  for (k in 1:K) {
    s <- as.character(k)
    out[[paste0("pstate_", k)]] <- fit$pstate[, k + 1]
    out[[paste0("std_err_", k)]] <- fit$std.err[, k + 1]
    out[[paste0("lower_", k)]] <- fit$lower[, k + 1]
    out[[paste0("upper_", k)]] <- fit$upper[, k + 1]
  }
  write.csv(out, paste0(name, "_survfit.csv"), row.names = FALSE)
}
writeLines(c(paste("R", getRversion()), paste("survival", packageVersion("survival")),
             paste("conf.type", survfit(Surv(time, factor(status, 0:2)) ~ 1, data = datasets$ties)$conf.type)),
           "VERSIONS.txt")
