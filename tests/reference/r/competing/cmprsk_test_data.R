# The data of cmprsk's own test script (tests/test.R of the R package cmprsk), regenerated with the
# random number generators of R 1.2.1, the version that wrote cmprsk's shipped reference output
# tests/test.Rout.save (Marsaglia-Multicarry / Kinderman-Ramage). The published estimates
# (cuminc(ss, cc): 0.2352861 0.3287068 0.4247898 at times 1, 2, 3) are reproduced from this file,
# which shows the data are the same. Run: Rscript cmprsk_test_data.R
suppressWarnings(RNGversion("1.2.1"))
set.seed(2)
ss <- rexp(100)
gg <- factor(sample(1:3, 100, replace = TRUE), 1:3, c("a", "b", "c"))
cc <- sample(0:2, 100, replace = TRUE)
strt <- sample(1:2, 100, replace = TRUE)
dd <- data.frame(ss = abs(rnorm(100)))
write.csv(data.frame(ss = ss, gg = gg, cc = cc, strt = strt, dd = dd$ss),
          "cmprsk_test_data.csv", row.names = FALSE)
