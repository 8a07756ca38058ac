$PROBLEM CAR T cellular kinetics (Stein et al. 2019) as ODEs: simulated study, M3 below the LLOQ
; Stein et al. 2019 (CPT:PSP 8:285-295, Figure 2; ../shared/reference/car-t-models.md section 1.1):
; effector CAR T cells E (compartment 1) expand at RHO = LOG(FOLDX)/TMAX until TMAX, then contract
; at ALPHA while feeding memory-like cells M (compartment 2) at KEM = FB*(ALPHA-BETA), which decline
; at BETA. E(0) = CMAX/FOLDX, M = 0 until TMAX. The observation is E + M, transgene copies per ug
; genomic DNA; time in days after infusion. MTIME(1) = TMAX makes the switch a model event time,
; where integration stops and restarts. cart-stein-pred.mod is the same model in closed form.
; Data: cart-stein.csv, written by Scripts/nlme/simulate_stein.py --seed 1 --subjects 60
; (60 patients, 6-8 qPCR samples each over a year). DV = LOG(copies/ug); CENS=1 marks a value below
; the assay limit of 150 copies/ug, with DV = LOG(150): the M3 likelihood. The record at TIME 0
; (EVID 1, AMT 0) starts the system there; no dose enters, E(0) comes from A_0(1).
$INPUT ID TIME DV MDV EVID AMT CMT CENS NTIME=DROP
$DATA cart-stein.csv IGNORE=@
$SUBROUTINES ADVAN6 TOL=9
$MODEL COMP=(EFFECTOR DEFDOSE DEFOBS) COMP=(MEMORY)

$PK
CMAX = THETA(1)*EXP(ETA(1))
TMAX = THETA(2)
FOLDX = EXP(THETA(3))
ALPHA = THETA(4)*EXP(ETA(2))
FB = THETA(5)*EXP(ETA(3))
BETA = THETA(6)
RHO = THETA(3)/TMAX
KEM = FB*(ALPHA-BETA)
A_0(1) = CMAX/FOLDX
MTIME(1) = TMAX

$DES
IF (T.LT.TMAX) THEN
  DADT(1) = RHO*A(1)
  DADT(2) = 0
ELSE
  DADT(1) = -ALPHA*A(1)
  DADT(2) = KEM*A(1) - BETA*A(2)
ENDIF

$ERROR
IPRED = A(1) + A(2)
Y = LOG(IPRED) + EPS(1)

; True values: Stein et al. 2019 Table 1, as in ../shared/reference/car-t-models.md section 1.1.
; Initial estimates: the truth x1.3 or /1.3. The fold expansion is estimated as its logarithm: log C is
; linear in it, so its estimate is close to normal and estimate +- 1.96 SE a fair 95% interval.
; TMAX is fixed: the concentration has a kink at TMAX, so the likelihood is not differentiable in
; TMAX wherever TMAX crosses a sample time; an estimated TMAX stops on a sample time and its
; finite-difference standard error means nothing.
$THETA
(0, 31200)       ; 1 CMAX  copies/ug; true 24000 (Stein 2019), start x1.3
9.3 FIX          ; 2 TMAX  days; true 9.3 (Stein 2019), fixed
(0, 8.0, 12)     ; 3 LOG(FOLDX) log fold expansion; true LOG(3900) = 8.269 (Stein 2019), start LOG(3000) (FOLDX /1.3)
(0, 0.21)        ; 4 ALPHA 1/day; true 0.16 (Stein 2019), start x1.3
(0, 0.0061, 1)   ; 5 FB    fraction; true 0.0079 (Stein 2019), start /1.3
(0, 0.0042)      ; 6 BETA  1/day; true 0.0032 (Stein 2019), start x1.3
; IIV on CMAX, ALPHA, FB (log-normal). True variances: 0.65 on CMAX (Stein 2019); 0.4 on ALPHA and
; 0.5 on FB, moderate choices of this design (Stein 2019: 0.91 and 0.80).
$OMEGA
0.5    ; IIV CMAX  true 0.65, start /1.3
0.52   ; IIV ALPHA true 0.4, start x1.3
0.38   ; IIV FB    true 0.5, start /1.3
; Residual error additive on the log scale: SD 0.56 (Stein 2019), variance 0.3136.
$SIGMA
0.41   ; true 0.3136, start x1.3

$ESTIMATION METHOD=COND INTERACTION MAXEVAL=9999
$COVARIANCE
