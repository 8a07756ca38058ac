import DoseFinding
import Testing

/// The accrued-data CSV of `design next`: totals per dose, the last cohort, and refusals that
/// name the line and column (counts that could overflow included).
struct AccruedDataTests {
  @Test func cohortsAndTotals() throws {
    let cohorts = try AccruedData(csv: "dose,patients,dlts\n1,3,0\n2,3,1\n2,3,0\n", source: "t.csv", doses: 3)
    #expect(cohorts.patients == [3, 6, 0] && cohorts.dlts == [0, 1, 0])
    #expect(cohorts.lastDose == 2 && cohorts.lastRow == (3, 0) && cohorts.rowsAreCohorts)
    let totals = try AccruedData(csv: "note, DLTs ,Dose,patients\na,0,1,3\nb,1,2,6\n", source: "t.csv", doses: 2)
    #expect(totals.patients == [3, 6] && totals.dlts == [0, 1] && !totals.rowsAreCohorts)
    // RFC 4180: a quoted note may hold commas; CRLF, a BOM and blank lines are fine.
    let quoted = try AccruedData(
      csv: "\u{FEFF}dose,patients,dlts,note\r\n\r\n1,3,0,\"first, cohort\"\r\n  \r\n2,3,1,\"said \"\"ok\"\"\"\r\n",
      source: "t.csv", doses: 2)
    #expect(quoted.patients == [3, 3] && quoted.dlts == [0, 1] && quoted.lastDose == 2)
  }

  @Test func refusals() {
    func field(_ csv: String) -> String? {
      do {
        _ = try AccruedData(csv: csv, source: "t.csv", doses: 3)
        return nil
      } catch let e as DoseFindingInputError { return e.field } catch { return "?" }
    }
    #expect(field("") == "header")
    #expect(field("dose,n,dlts\n1,3,0\n") == "header")
    #expect(field("dose,patients,dlts\n") == "rows")
    #expect(field("dose,patients,dlts\n4,3,0\n") == "line 2: dose")
    #expect(field("dose,patients,dlts\n1,x,0\n") == "line 2: patients")
    #expect(field("dose,patients,dlts\n1,3,4\n") == "line 2: dlts")
    // Counts that would overflow the totals (found reading the reader for the fuzz target).
    #expect(field("dose,patients,dlts\n1,9223372036854775807,0\n1,9223372036854775807,0\n") == "line 2: patients")
    #expect(field("dose,patients,dlts\n1,60000,0\n1,60000,0\n") == "line 3: patients")
    // Lines are counted in the file, blank ones included; malformed quoting names line and column.
    #expect(field("dose,patients,dlts\n\n1,3,0\n  \n9,3,0\n") == "line 5: dose")
    #expect(field("dose,patients,dlts\n1,3\",0\n") == "line 2, column 2")
    #expect(field("dose,patients,dlts\n1,3,0,\"open\n") == "line 2, column 4")
  }
}
