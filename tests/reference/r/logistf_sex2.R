# Writes logistf_sex2.csv: the `sex2` data shipped with R package logistf (data/sex2.rda,
# github.com/georgheinze/logistf, commit f9f36414c3124a3bc65b0b690d29ca581e080438, version 1.26.1),
# case-control study of urinary tract infection in 239 young women (Heinze & Schemper 2002).
# Run with R 4.2.2:  Rscript logistf_sex2.R /path/to/sex2.rda
args <- commandArgs(trailingOnly = TRUE)
load(args[1])
write.csv(sex2, "logistf_sex2.csv", row.names = FALSE)
# Published logistf output for this data (logistf's own example,
# fit <- logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)), as printed by the R
# package `parameters` test snapshot tests/testthat/_snaps/windows/model_parameters.logistf.md
# (log-odds, 95% profile penalised likelihood interval, penalised LR chi-square):
#   age  -1.11 [-1.97, -0.31] 7.51 | oc -0.07 [-0.94, 0.79] 0.02 | vic 2.27 [1.27, 3.44] 22.93
#   vicl -2.11 [-3.26, -1.12] 19.10 | vis -0.79 [-1.61, 0.02] 3.70 | dia 3.10 [0.77, 8.03] 7.90
