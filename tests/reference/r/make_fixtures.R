# Recorded R results replayed by tests/test_r_reference.py.
# Made with R 4.2.2 and survival 3.5-3 (Debian r-base-core, r-cran-survival):
#   cd tests/reference/r && Rscript make_fixtures.R
# Numbers are written with 17 significant digits (sprintf("%.17g")), so the CSVs carry R's
# doubles exactly; NA is written as "NA".
suppressPackageStartupMessages(library(survival))
stopifnot(getRversion() == "4.2.2", packageVersion("survival") == "3.5.3")
set.seed(20261130)
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
out <- function(frame, file) {
  for (k in names(frame)) if (is.numeric(frame[[k]])) frame[[k]] <- num(frame[[k]])
  write.csv(frame, file, row.names = FALSE, quote = FALSE)
}

# ---- binom.test, prop.test (Wilson), fisher.test ---------------------------------------------
cases <- data.frame(x = c(0, 1, 5, 9, 10, 0, 37, 81, 3, 45), n = c(10, 10, 12, 10, 10, 1, 50, 263, 4, 50),
                    p0 = c(0.9, 0.5, 0.3, 0.9, 0.9, 0.5, 0.8, 0.3, 0.1, 0.9))
for (i in 1:20) {
  n <- sample(1:80, 1); cases <- rbind(cases, data.frame(x = rbinom(1, n, runif(1)), n = n, p0 = round(runif(1, 0.05, 0.95), 2)))
}
binom <- do.call(rbind, lapply(seq_len(nrow(cases)), function(i) {
  x <- cases$x[i]; n <- cases$n[i]; p0 <- cases$p0[i]
  bt <- binom.test(x, n, p = p0)
  wil <- prop.test(x, n, correct = FALSE)$conf.int  # the Wilson score interval
  data.frame(x = x, n = n, p0 = p0,
             p_two_sided = bt$p.value,
             p_less = binom.test(x, n, p = p0, alternative = "less")$p.value,
             p_greater = binom.test(x, n, p = p0, alternative = "greater")$p.value,
             exact_low = bt$conf.int[1], exact_high = bt$conf.int[2],
             wilson_low = wil[1], wilson_high = wil[2])
}))
out(binom, "binom.csv")

tables <- data.frame(x1 = c(3, 0, 0, 5, 10, 0, 4), n1 = c(10, 0, 8, 56, 10, 0, 4),
                     x2 = c(0, 2, 0, 0, 0, 0, 1), n2 = c(0, 7, 9, 29, 20, 0, 9))
for (i in 1:20) {
  n1 <- sample(1:40, 1); n2 <- sample(1:40, 1)
  tables <- rbind(tables, data.frame(x1 = rbinom(1, n1, 0.6), n1 = n1, x2 = rbinom(1, n2, 0.4), n2 = n2))
}
fisher <- do.call(rbind, lapply(seq_len(nrow(tables)), function(i) {
  m <- with(tables[i, ], matrix(c(x1, n1 - x1, x2, n2 - x2), 2))  # columns = groups
  data.frame(tables[i, ],
             p_two_sided = fisher.test(m)$p.value,
             p_less = fisher.test(m, alternative = "less")$p.value,
             p_greater = fisher.test(m, alternative = "greater")$p.value)
}))
out(fisher, "fisher.csv")

# ---- survival data sets ------------------------------------------------------------------------
make <- function(id, n, censor_rate = 0.3, ngroups = 2, nstrata = 2, round_to = 1) {
  group <- sample(letters[1:ngroups], n, replace = TRUE)
  x <- round(rnorm(n), 3)
  t_event <- rexp(n, rate = 0.1 * exp(0.5 * (group == "b") + 0.3 * x))
  t_cens <- rexp(n, rate = censor_rate * 0.1)
  data.frame(dataset = id, time = pmax(round(pmin(t_event, t_cens) / round_to) * round_to, round_to),
             status = as.integer(t_event <= t_cens), group = group, x = x,
             stratum = paste0("s", sample(seq_len(nstrata), n, replace = TRUE)))
}
sets <- list()
for (i in 1:30) sets[[i]] <- make(i, n = sample(6:80, 1), censor_rate = runif(1, 0, 1.5),
                                  ngroups = sample(2:3, 1, prob = c(0.7, 0.3)), round_to = sample(c(0.01, 1, 5), 1))
sets[[31]] <- transform(make(31, 20), status = 0L)                               # all censored
sets[[32]] <- transform(make(32, 30), status = ifelse(group == "a", 0L, status)) # no events in group a
sets[[33]] <- transform(make(33, 25), status = 1L)                               # no censoring: S reaches 0
sets[[34]] <- data.frame(dataset = 34, time = c(1, 2, 2, 3, 4, 5, 5, 6), status = c(0, 1, 1, 0, 1, 1, 1, 1),
                         group = rep(c("a", "b"), 4), x = c(0.1, -0.3, 1.2, 0.5, -1.1, 0.4, 0.0, 2.0),
                         stratum = "s1")                                          # censored first, S = 0 last
sets[[35]] <- data.frame(dataset = 35, time = 1:6, status = 1L, group = rep(c("a", "b"), each = 3),
                         x = c(0.3, -0.2, 0.8, 1.1, -0.7, 0.2), stratum = rep(c("s1", "s2"), each = 3)) # singular strata
sets[[36]] <- transform(make(36, 40, round_to = 10), status = status)            # heavy ties
sets[[37]] <- data.frame(dataset = 37, time = c(1, 1, 2, 2, 3, 3, 4, 4, 5, 5), status = 1L,
                         group = rep(c("a", "b"), 5), x = c(1, 0, 2, 1, 0, 1, 2, 0, 1, 2) / 2,
                         stratum = "s1")                                          # S exactly 0.5 on a flat
surv <- do.call(rbind, sets)
out(surv, "survival_data.csv")

km <- list(); med <- list(); sd_all <- list(); sd_groups <- list(); cox <- list()
for (d in split(surv, surv$dataset)) {
  id <- d$dataset[1]
  f <- survfit(Surv(time, status) ~ 1, data = d, conf.type = "log-log")
  km[[length(km) + 1]] <- data.frame(dataset = id, time = f$time, n_risk = f$n.risk, n_event = f$n.event,
                                     n_censor = f$n.censor, surv = f$surv, se_surv = f$surv * f$std.err,
                                     lower = f$lower, upper = f$upper)
  q <- quantile(f, 0.5)
  flat <- any(abs(f$surv - 0.5) < sqrt(.Machine$double.eps))  # R takes the midpoint of a flat at 0.5
  med[[length(med) + 1]] <- data.frame(dataset = id, median = unname(q$quantile), lower = unname(q$lower),
                                       upper = unname(q$upper), flat_at_half = as.integer(flat))
  for (stratified in c(0, 1)) {
    fml <- if (stratified == 1) Surv(time, status) ~ group + strata(stratum) else Surv(time, status) ~ group
    s <- tryCatch(survdiff(fml, data = d), error = function(e) conditionMessage(e))
    if (is.character(s)) {
      sd_all[[length(sd_all) + 1]] <- data.frame(dataset = id, stratified = stratified, chisq = NA, df = NA,
                                                 pvalue = NA, error = 1)
    } else {
      obs <- if (is.matrix(s$obs)) rowSums(s$obs) else s$obs
      ex <- if (is.matrix(s$exp)) rowSums(s$exp) else s$exp
      sd_all[[length(sd_all) + 1]] <- data.frame(dataset = id, stratified = stratified, chisq = s$chisq,
                                                 df = sum(ex > 0) - 1, pvalue = s$pvalue, error = 0)
      sd_groups[[length(sd_groups) + 1]] <- data.frame(dataset = id, stratified = stratified,
                                                       group = sub("group=", "", names(s$n)), n = as.vector(s$n),
                                                       observed = obs, expected = ex, variance = diag(as.matrix(s$var)))
    }
  }
  two <- d[d$group %in% c("a", "b"), ]
  if (length(unique(two$group)) == 2 && sum(two$status) > 0) {
    for (ties in c("efron", "breslow")) {
      warned <- 0
      fit <- withCallingHandlers(
        coxph(Surv(time, status) ~ group + x, data = two, ties = ties,
              control = coxph.control(eps = 1e-14, iter.max = 200, toler.chol = 1e-15)),
        warning = function(w) { warned <<- 1; invokeRestart("muffleWarning") })
      sm <- summary(fit)$coefficients
      cox[[length(cox) + 1]] <- data.frame(dataset = id, ties = ties, term = c("group", "x"),
                                           coef = sm[, "coef"], se = sm[, "se(coef)"], p = sm[, "Pr(>|z|)"],
                                           events_a = sum(two$status[two$group == "a"]),
                                           events_b = sum(two$status[two$group == "b"]), warned = warned)
    }
  }
}
out(do.call(rbind, km), "survfit.csv")
out(do.call(rbind, med), "survfit_median.csv")
out(do.call(rbind, sd_all), "survdiff.csv")
out(do.call(rbind, sd_groups), "survdiff_groups.csv")
out(do.call(rbind, cox), "coxph.csv")

# ---- glm(binomial) ------------------------------------------------------------------------------
glm_sets <- list(); glm_out <- list()
for (i in 1:15) {
  n <- sample(40:300, 1)
  d <- data.frame(dataset = i, early = rbinom(n, 1, 0.5), age = round(rnorm(n, 75, 8), 1),
                  levels = sample(1:3, n, replace = TRUE))
  d$y <- rbinom(n, 1, plogis(-1 + 0.7 * d$early + 0.02 * (d$age - 75) + 0.3 * d$levels))
  glm_sets[[i]] <- d
  fit <- glm(y ~ early + age + levels, family = binomial, data = d,
             control = glm.control(epsilon = 1e-15, maxit = 100))
  sm <- summary(fit)$coefficients
  ci <- confint.default(fit)
  glm_out[[i]] <- data.frame(dataset = i, term = rownames(sm), coef = sm[, 1], se = sm[, 2], p = sm[, 4],
                             wald_low = ci[, 1], wald_high = ci[, 2])
}
out(do.call(rbind, glm_sets), "glm_data.csv")
out(do.call(rbind, glm_out), "glm.csv")
cat("done\n")
