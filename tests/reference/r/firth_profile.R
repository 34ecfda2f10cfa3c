# Writes firth_profile.csv: Firth (1993) penalised likelihood estimates and 95% profile penalised
# likelihood limits (logistf's defaults) for the two small separated data sets of issue 17, with the
# penalised likelihood written directly in R (logistf is not in Debian), R 4.2.2:
#   cd tests/reference/r && Rscript firth_profile.R
# l*(b) = sum(y eta - log(1 + exp(eta))) + log det(X' W X) / 2; its gradient is the modified score
# X' (y - p + h (1/2 - p)). Profiles are maximised by BFGS (reltol 1e-15), continued in 400 steps
# from the estimate to each limit; limits by uniroot (tol 1e-13) on 2 [l*(b_hat) - max_{b_j} l*] - q.
pl <- function(b, X, y) {
  eta <- drop(X %*% b); w <- plogis(eta) * plogis(-eta)
  d <- determinant(crossprod(X, X * w))
  if (d$sign <= 0) return(-Inf)
  sum(y * eta - log1p(exp(-abs(eta))) - pmax(eta, 0)) + as.numeric(d$modulus) / 2
}
score <- function(b, X, y) {
  eta <- drop(X %*% b); p <- plogis(eta); w <- p * plogis(-eta)
  xw <- X * sqrt(w); h <- rowSums((xw %*% solve(crossprod(xw))) * xw)
  drop(crossprod(X, y - p + h * (0.5 - p)))
}
fit_free <- function(start, X, y, j = NULL, bj = NULL) {
  free <- setdiff(seq_len(ncol(X)), j)
  full <- function(v) { b <- numeric(ncol(X)); b[free] <- v; if (!is.null(j)) b[j] <- bj; b }
  o <- optim(start[free], function(v) -pl(full(v), X, y), function(v) -score(full(v), X, y)[free],
             method = "BFGS", control = list(reltol = 1e-15, maxit = 10000))
  list(b = full(o$par), value = -o$value)
}
q <- qchisq(0.95, 1)
sets <- list(
  n18 = data.frame(y = c(1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1),
                   b = c(1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0),
                   c = c(-0.59, 0.78, -1.58, -0.87, 0.69, -0.94, -2.23, -0.09, 0.92, -0.13, 1.06, -0.59,
                         -1.65, -0.65, -0.02, -0.35, -0.28, 0.13)),
  n15 = data.frame(y = c(1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1),
                   b = c(0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0),
                   c = c(0.19, 1.89, 0.23, 0.91, 1.1, 0.09, -0.03, -0.49, 0.07, 0.57, 0.08, 0.44, -0.5,
                         0.99, 0.63)))
num <- function(x) sprintf("%.17g", x)
rows <- list()
for (name in names(sets)) {
  d <- sets[[name]]; X <- cbind(1, d$b, d$c); y <- d$y
  est <- fit_free(c(0, 0, 0), X, y)
  est <- fit_free(est$b, X, y)
  for (j in 2:3) {
    limits <- c(NA, NA)
    for (side in c(-1, 1)) {
      # step out from the estimate (continuation) until the deviance passes q
      path <- est$b; bj <- est$b[j]; step <- 0.05; dev <- 0
      while (dev < q) {
        prev_bj <- bj; prev_path <- path
        bj <- bj + side * step
        f <- fit_free(path, X, y, j, bj); path <- f$b; dev <- 2 * (est$value - f$value)
      }
      g <- function(t) 2 * (est$value - fit_free(prev_path, X, y, j, t)$value) - q
      limits[(side + 3) / 2] <- uniroot(g, sort(c(prev_bj, bj)), tol = 1e-13)$root
    }
    rows[[length(rows) + 1]] <- data.frame(dataset = name, term = c("b", "c")[j - 1],
                                           coef = num(est$b[j]), lower = num(limits[1]), upper = num(limits[2]))
  }
}
write.csv(do.call(rbind, rows), "firth_profile.csv", row.names = FALSE, quote = FALSE)
