Attribute VB_Name = "kpibook"
' kpibook ribbon macros for desktop Excel with the (BSD) xlwings add-in installed.
'
' Each macro posts the active workbook to the kpibook server with xlwings' RunRemotePython and
' lets xlwings apply the actions the server returns. Requires a VBA reference to "xlwings"
' (VBA editor > Tools > References), see docs/vba.md.
'
' Configuration, first found wins:
'   base URL: environment variable KPIBOOK_URL, the workbook name kb_base_url, or the cell next
'             to "base_url" on the sheet "kpibook.conf"
'   token   : environment variable KPIBOOK_TOKEN, the workbook name kb_token, or the cell next
'             to "token" on the sheet "kpibook.conf"
' Prefer the environment variable for the token: a token typed into the workbook travels with
' every copy of the file. The sheet "kpibook.conf" is never sent to the server (exclude:=).
'
' Protected sheets: kpibook's templates protect the output sheets (scores, summary,
' adjustments) without a password, and Excel refuses the server's writes there. Around
' RunRemotePython every sheet holding a kpibook table (a ListObject named kb_...) that is
' protected without a password is unprotected, and protected again afterwards with the same
' flags, also when something fails. A sheet protected with a password stops the macro before
' anything is sent or written.
'
' Sheet digests (docs/protocol.md, "Sheet digests"): the sheets kb_meta lists in sheet_digests
' (the sheets the server filled: results, data, adjustments, as its last answer left them)
' are not sent again when they are unchanged: such a sheet is excluded and its SHA-256 goes in the Kpibook-Digests header, and
' the server uses its own copy. A sheet whose digest differs from the stamp (HR typed over a
' result) is sent with its values. RunRemotePython shows a non-200 answer and cannot send the
' request again, so the stamp is emptied before the request: when the server lacks a copy (409)
' the next press sends everything, and a 200 answer stamps kb_meta anew. Windows only (CNG's
' SHA-256, UTF-8 by WideCharToMultiByte); on a Mac every sheet is sent, as before.
'
' This file is pure ASCII (VBA imports .bas files in the system code page, which would garble
' UTF-8): Chinese texts are written as Zh("\u....") escapes.
Option Explicit

#If Mac Then
#ElseIf VBA7 Then
Private Declare PtrSafe Function BCryptOpenAlgorithmProvider Lib "bcrypt.dll" (ByRef phAlgorithm As LongPtr, ByVal pszAlgId As LongPtr, ByVal pszImplementation As LongPtr, ByVal dwFlags As Long) As Long
Private Declare PtrSafe Function BCryptCloseAlgorithmProvider Lib "bcrypt.dll" (ByVal hAlgorithm As LongPtr, ByVal dwFlags As Long) As Long
Private Declare PtrSafe Function BCryptCreateHash Lib "bcrypt.dll" (ByVal hAlgorithm As LongPtr, ByRef phHash As LongPtr, ByVal pbHashObject As LongPtr, ByVal cbHashObject As Long, ByVal pbSecret As LongPtr, ByVal cbSecret As Long, ByVal dwFlags As Long) As Long
Private Declare PtrSafe Function BCryptHashData Lib "bcrypt.dll" (ByVal hHash As LongPtr, ByVal pbInput As LongPtr, ByVal cbInput As Long, ByVal dwFlags As Long) As Long
Private Declare PtrSafe Function BCryptFinishHash Lib "bcrypt.dll" (ByVal hHash As LongPtr, ByVal pbOutput As LongPtr, ByVal cbOutput As Long, ByVal dwFlags As Long) As Long
Private Declare PtrSafe Function BCryptDestroyHash Lib "bcrypt.dll" (ByVal hHash As LongPtr) As Long
Private Declare PtrSafe Function WideCharToMultiByte Lib "kernel32" (ByVal CodePage As Long, ByVal dwFlags As Long, ByVal lpWideCharStr As LongPtr, ByVal cchWideChar As Long, ByVal lpMultiByteStr As LongPtr, ByVal cbMultiByte As Long, ByVal lpDefaultChar As LongPtr, ByVal lpUsedDefaultChar As LongPtr) As Long
#End If

Private Const DIGESTS_HEADER As String = "Kpibook-Digests"
Private Const DIGESTS_META_KEY As String = "sheet_digests"
Private Const META_TABLE As String = "kb_meta"
Private Const CP_UTF8 As Long = 65001


Private Const CONFIG_SHEET As String = "kpibook.conf"
' Scoring a large workbook can take longer than xlwings' default of 30 s.
Private Const TIMEOUT_MS As Long = 180000
' kpibook's own tables are named kb_scores, kb_summary, kb_meta, ...
Private Const KPI_TABLE_PREFIX As String = "kb_"

' Positions in the array ProtectionState returns (one per unprotected sheet).
Private Const PS_SHEET As Long = 0
Private Const PS_DRAWING_OBJECTS As Long = 1
Private Const PS_CONTENTS As Long = 2
Private Const PS_SCENARIOS As Long = 3
Private Const PS_USER_INTERFACE_ONLY As Long = 4
Private Const PS_FORMATTING_CELLS As Long = 5
Private Const PS_FORMATTING_COLUMNS As Long = 6
Private Const PS_FORMATTING_ROWS As Long = 7
Private Const PS_INSERTING_COLUMNS As Long = 8
Private Const PS_INSERTING_ROWS As Long = 9
Private Const PS_INSERTING_HYPERLINKS As Long = 10
Private Const PS_DELETING_COLUMNS As Long = 11
Private Const PS_DELETING_ROWS As Long = 12
Private Const PS_SORTING As Long = 13
Private Const PS_FILTERING As Long = 14
Private Const PS_PIVOT_TABLES As Long = 15
Private Const PS_ENABLE_SELECTION As Long = 16

' New period needs the month the person chooses: an InputBox asks for it (this month is
' filled in) and it is sent as ?period=; the server checks it and says why when it is not one.
' A second InputBox asks for the scorecard (optional, as in the Office.js task pane): a month
' can hold several, and a second workbook of the same template needs its own code.
' Cancel (or an empty answer) sends nothing. Scripts call KpiNewPeriodFor "2026-11" instead.
Public Sub KpiNewPeriod()
    Dim period As String, scorecard As String, answer As Variant
    period = Trim$(InputBox(Zh("\u8BF7\u8F93\u5165\u8981\u65B0\u5EFA\u7684\u8003\u6838\u671F\u95F4\uFF08\u5982 2026-11\uFF0C\u4E5F\u53EF 2026-Q4 \u6216 2026\uFF09\uFF1A") & vbCrLf & _
        "Period to create (e.g. 2026-11; 2026-Q4 or 2026 work too):", _
        Zh("\u65B0\u5EFA\u671F\u95F4") & " / New period", Format$(Date, "yyyy-mm")))
    If period = "" Then Exit Sub
    ' Application.InputBox tells Cancel (False) from an empty answer (the template's code)
    answer = Application.InputBox(Zh("\u8003\u6838\u8868\uFF08\u53EF\u9009\uFF09\uFF1A\u540C\u4E00\u4E2A\u6708\u53EF\u6709\u591A\u5F20\u8003\u6838\u8868\uFF08\u5982\u5236\u9020\u3001\u7814\u53D1\u3001\u9500\u552E\uFF09\u3002\u7559\u7A7A\u5219\u4F7F\u7528\u672C\u5DE5\u4F5C\u7C3F\u6A21\u677F\u7684\u4EE3\u7801\uFF1B\u540C\u4E00\u6A21\u677F\u7684\u7B2C\u4E8C\u672C\u5DE5\u4F5C\u7C3F\u8BF7\u53E6\u8D77\u4EE3\u7801\uFF0C\u5982 plant2\u3002") & vbCrLf & _
        "Scorecard (optional). Empty: this workbook's template code; a second workbook of the same template needs its own code, e.g. plant2.", _
        Zh("\u65B0\u5EFA\u671F\u95F4") & " / New period", "", Type:=2)
    If VarType(answer) = vbBoolean Then Exit Sub
    scorecard = Trim$(CStr(answer))
    KpiNewPeriodFor period, scorecard
End Sub

' New period for `period` without asking, e.g. from a macro of HR's own; `scorecard` empty:
' the workbook template's own code (the server decides and says which it used).
Public Sub KpiNewPeriodFor(ByVal period As String, Optional ByVal scorecard As String = "")
    Dim query As String
    query = "new_period?period=" & Application.WorksheetFunction.EncodeURL(period)
    If scorecard <> "" Then
        query = query & "&scorecard=" & Application.WorksheetFunction.EncodeURL(scorecard)
    End If
    RunKpiButton query
End Sub

Public Sub KpiPullData()
    RunKpiButton "pull"
End Sub

Public Sub KpiScore()
    RunKpiButton "score"
End Sub

Public Sub KpiCheck()
    RunKpiButton "check"
End Sub

Public Sub KpiSubmit()
    RunKpiButton "submit"
End Sub

' Read only: writes the period's results of record (appeal answers included), in any period
' state; nothing changes on the server.
Public Sub KpiRefresh()
    RunKpiButton "refresh"
End Sub

' Opens {base}/review in the default browser.
Public Sub KpiOpenReview()
    Dim baseUrl As String
    baseUrl = KpiSetting("KPIBOOK_URL", "kb_base_url", "base_url")
    If baseUrl = "" Then Exit Sub
    ActiveWorkbook.FollowHyperlink Address:=baseUrl & "/review", NewWindow:=True
End Sub

' Posts the active workbook to {base}/xl/{button}. On a non-200 reply xlwings shows the
' server's text in a message box; on 200 it runs the returned actions.
Private Sub RunKpiButton(ByVal button As String)
    Dim baseUrl As String, token As String
    baseUrl = KpiSetting("KPIBOOK_URL", "kb_base_url", "base_url")
    If baseUrl = "" Then Exit Sub
    token = KpiSetting("KPIBOOK_TOKEN", "kb_token", "token")
    If token = "" Then Exit Sub

    Dim book As Workbook, unprotected As Collection, passwordSheet As String
    Set book = ActiveWorkbook ' the workbook RunRemotePython sends and writes to
    Set unprotected = New Collection

    Dim previousCursor As XlMousePointer
    previousCursor = Application.Cursor
    Application.Cursor = xlWait
    Application.StatusBar = "kpibook: " & button & "..."
    On Error GoTo Failed
    passwordSheet = UnprotectKpiSheets(book, unprotected)
    If passwordSheet <> "" Then
        MsgBox Zh("kpibook\uFF1A\u5DE5\u4F5C\u8868\u201C") & passwordSheet & Zh("\u201D\u8BBE\u7F6E\u4E86\u5BC6\u7801\u4FDD\u62A4\uFF0Ckpibook \u65E0\u6CD5\u5199\u5165\uFF0C\u672C\u6B21\u672A\u505A\u4EFB\u4F55\u66F4\u6539\u3002") & _
            Zh("\u8BF7\u64A4\u9500\u8BE5\u5DE5\u4F5C\u8868\u7684\u4FDD\u62A4\uFF08\u5BA1\u9605 > \u64A4\u9500\u5DE5\u4F5C\u8868\u4FDD\u62A4\uFF09\u540E\u91CD\u8BD5\u3002") & vbCrLf & _
            "kpibook: the sheet """ & passwordSheet & """ is protected with a password, so kpibook " & _
            "cannot write to it. Nothing was changed. Unprotect it (Review > Unprotect Sheet) and " & _
            "try again.", vbExclamation, "kpibook"
        GoTo Done
    End If
    ' The unchanged sheets the server filled go by digest; the stamp is emptied first (see the top).
    Dim digestHeaders As Object, digested As String
    Set digestHeaders = CreateObject("Scripting.Dictionary")
    digestHeaders.Add DIGESTS_HEADER, SheetDigestsHeader(book, digested)
    SetMetaValue book, DIGESTS_META_KEY, ""
    RunRemotePython baseUrl & "/xl/" & button, _
        auth:="Bearer " & token, _
        exclude:=CONFIG_SHEET & digested, _
        headers:=digestHeaders, _
        timeout:=TIMEOUT_MS
Done:
    ' ProtectAgain never raises (it reports its own failures), so this cannot loop into Failed.
    ProtectAgain unprotected
    Application.Cursor = previousCursor
    Application.StatusBar = False
    Exit Sub
Failed:
    MsgBox "kpibook: " & Err.Description, vbCritical, "kpibook"
    Resume Done
End Sub

' Unprotects every protected sheet of `book` that holds a kpibook table and adds what is needed
' to protect it again (ProtectionState) to `unprotected`. Returns "" on success. When a sheet is
' protected with a password, protects the sheets unprotected so far again and returns that
' sheet's name: nothing may be sent or written then.
Private Function UnprotectKpiSheets(ByVal book As Workbook, ByVal unprotected As Collection) As String
    Dim sheet As Worksheet, state As Variant, refused As Boolean
    For Each sheet In book.Worksheets
        If IsProtected(sheet) And HasKpiTable(sheet) Then
            state = ProtectionState(sheet)
            ' An explicit empty password: without the argument Excel would prompt for one.
            On Error Resume Next
            sheet.Unprotect Password:=""
            refused = (Err.Number <> 0)
            On Error GoTo 0
            If refused Or IsProtected(sheet) Then
                ProtectAgain unprotected
                UnprotectKpiSheets = sheet.Name
                Exit Function
            End If
            unprotected.Add state
        End If
    Next sheet
End Function

' Protects the sheets again exactly as they were and empties `unprotected`. Reports failures in
' a message box instead of raising, so that it is safe to call from error handling.
Private Sub ProtectAgain(ByVal unprotected As Collection)
    Dim state As Variant, sheet As Worksheet, failedSheets As String
    Do While unprotected.Count > 0
        state = unprotected(1)
        unprotected.Remove 1
        Set sheet = state(PS_SHEET)
        On Error Resume Next
        sheet.Protect Password:="", _
            DrawingObjects:=state(PS_DRAWING_OBJECTS), _
            Contents:=state(PS_CONTENTS), _
            Scenarios:=state(PS_SCENARIOS), _
            UserInterfaceOnly:=state(PS_USER_INTERFACE_ONLY), _
            AllowFormattingCells:=state(PS_FORMATTING_CELLS), _
            AllowFormattingColumns:=state(PS_FORMATTING_COLUMNS), _
            AllowFormattingRows:=state(PS_FORMATTING_ROWS), _
            AllowInsertingColumns:=state(PS_INSERTING_COLUMNS), _
            AllowInsertingRows:=state(PS_INSERTING_ROWS), _
            AllowInsertingHyperlinks:=state(PS_INSERTING_HYPERLINKS), _
            AllowDeletingColumns:=state(PS_DELETING_COLUMNS), _
            AllowDeletingRows:=state(PS_DELETING_ROWS), _
            AllowSorting:=state(PS_SORTING), _
            AllowFiltering:=state(PS_FILTERING), _
            AllowUsingPivotTables:=state(PS_PIVOT_TABLES)
        If Err.Number = 0 Then sheet.EnableSelection = state(PS_ENABLE_SELECTION)
        If Err.Number <> 0 Then failedSheets = failedSheets & " '" & sheet.Name & "'"
        Err.Clear
        On Error GoTo 0
    Loop
    If failedSheets <> "" Then
        MsgBox Zh("kpibook\uFF1A\u65E0\u6CD5\u91CD\u65B0\u4FDD\u62A4\u5DE5\u4F5C\u8868") & failedSheets & Zh("\uFF0C\u8BF7\u624B\u52A8\u4FDD\u62A4\uFF08\u5BA1\u9605 > \u4FDD\u62A4\u5DE5\u4F5C\u8868\uFF09\u3002") & vbCrLf & _
            "kpibook: could not protect the sheet(s)" & failedSheets & " again; please protect " & _
            "them (Review > Protect Sheet).", vbExclamation, "kpibook"
    End If
End Sub

' The sheet and its protection flags, indexed by the PS_ constants.
Private Function ProtectionState(ByVal sheet As Worksheet) As Variant
    With sheet.Protection
        ProtectionState = Array(sheet, sheet.ProtectDrawingObjects, sheet.ProtectContents, _
            sheet.ProtectScenarios, sheet.ProtectionMode, _
            .AllowFormattingCells, .AllowFormattingColumns, .AllowFormattingRows, _
            .AllowInsertingColumns, .AllowInsertingRows, .AllowInsertingHyperlinks, _
            .AllowDeletingColumns, .AllowDeletingRows, .AllowSorting, .AllowFiltering, _
            .AllowUsingPivotTables, sheet.EnableSelection)
    End With
End Function

Private Function IsProtected(ByVal sheet As Worksheet) As Boolean
    IsProtected = sheet.ProtectContents Or sheet.ProtectDrawingObjects Or sheet.ProtectScenarios
End Function

' True when the sheet holds a table kpibook writes (its name starts with kb_).
Private Function HasKpiTable(ByVal sheet As Worksheet) As Boolean
    Dim table As ListObject
    For Each table In sheet.ListObjects
        If LCase$(Left$(table.Name, Len(KPI_TABLE_PREFIX))) = KPI_TABLE_PREFIX Then
            HasKpiTable = True
            Exit Function
        End If
    Next table
End Function

' Reads a setting from the environment, a workbook name, or the config sheet; tells the user
' where to put it when it is missing. Trailing slashes are removed from URLs.
Private Function KpiSetting(ByVal envName As String, ByVal workbookName As String, ByVal key As String) As String
    Dim value As String
    value = Trim$(Environ$(envName))
    If value = "" Then value = NamedValue(workbookName)
    If value = "" Then value = ConfigSheetValue(key)
    Do While Right$(value, 1) = "/"
        value = Left$(value, Len(value) - 1)
    Loop
    If value = "" Then
        MsgBox "kpibook: please set " & key & " (environment variable " & envName & _
            ", the name " & workbookName & ", or the sheet '" & CONFIG_SHEET & "')." & vbCrLf & _
            Zh("kpibook\uFF1A\u8BF7\u8BBE\u7F6E ") & key & Zh("\uFF08\u73AF\u5883\u53D8\u91CF ") & envName & Zh("\u3001\u540D\u79F0 ") & workbookName & _
            Zh(" \u6216\u5DE5\u4F5C\u8868 '") & CONFIG_SHEET & Zh("'\uFF09\u3002"), vbExclamation, "kpibook"
    End If
    KpiSetting = value
End Function

Private Function NamedValue(ByVal workbookName As String) As String
    On Error Resume Next
    NamedValue = Trim$(CStr(ActiveWorkbook.Names(workbookName).RefersToRange.Value))
    On Error GoTo 0
End Function

Private Function ConfigSheetValue(ByVal key As String) As String
    Dim sheet As Worksheet, found As Range
    On Error Resume Next
    Set sheet = ActiveWorkbook.Worksheets(CONFIG_SHEET)
    On Error GoTo 0
    If sheet Is Nothing Then Exit Function
    Set found = sheet.Columns(1).Find(What:=key, LookIn:=xlValues, LookAt:=xlWhole, MatchCase:=False)
    If Not found Is Nothing Then ConfigSheetValue = Trim$(CStr(found.Offset(0, 1).Value))
End Function

' Decodes "\uXXXX" escapes (4 hex digits), so that Chinese texts survive any system code page.
Private Function Zh(ByVal escaped As String) As String
    Dim position As Long, result As String
    position = 1
    Do While position <= Len(escaped)
        If Mid$(escaped, position, 2) = "\u" Then
            result = result & ChrW$(CLng("&H" & Mid$(escaped, position + 2, 4)))
            position = position + 6
        Else
            result = result & Mid$(escaped, position, 1)
            position = position + 1
        End If
    Loop
    Zh = result
End Function

' ---------------------------------------------------------------------------------------------
' Sheet digests (docs/protocol.md, "Sheet digests")

' The Kpibook-Digests header ("name=digest&...", or "-") for the sheets kb_meta lists in
' sheet_digests whose digest is still the stamped one; their names go to `excluded` as
' ",name" each (appended to RunRemotePython's exclude list).
Private Function SheetDigestsHeader(ByVal book As Workbook, ByRef excluded As String) As String
    Dim stamp As String, pair As Variant, name As String, wanted As String
    Dim sheet As Worksheet, header As String, digest As String
    SheetDigestsHeader = "-"
    excluded = ""
#If Mac Or Not VBA7 Then
    Exit Function
#End If
    stamp = MetaValue(book, DIGESTS_META_KEY)
    If stamp = "" Or stamp = "-" Then Exit Function
    For Each pair In Split(stamp, "&")
        If InStr(pair, "=") > 1 Then
            name = UrlDecode(Left$(pair, InStr(pair, "=") - 1))
            wanted = LCase$(Mid$(pair, InStr(pair, "=") + 1))
            Set sheet = Nothing
            On Error Resume Next
            Set sheet = book.Worksheets(name)
            On Error GoTo 0
            ' xlwings splits exclude at commas: a name with one is always sent
            If Not sheet Is Nothing And InStr(name, ",") = 0 Then
                digest = SheetDigest(sheet)
                If digest <> "" And digest = wanted Then
                    If header <> "" Then header = header & "&"
                    header = header & Application.WorksheetFunction.EncodeURL(name) & "=" & digest
                    excluded = excluded & "," & name
                End If
            End If
        End If
    Next pair
    If header <> "" Then SheetDigestsHeader = header
End Function

' SHA-256 (hex) of the JSON text [tables, values] of the sheet, as server/xlwire/digest.py
' computes it: values from A1 to the end of the used range (what RunRemotePython sends), without
' trailing rows and columns that are all empty; tables as [name, address without $,
' show_headers, show_totals]. "" when it cannot be computed (the sheet is then sent).
Private Function SheetDigest(ByVal sheet As Worksheet) As String
    Dim parts() As String, n As Long, table As ListObject, values As Variant
    Dim lastRow As Long, lastCol As Long, r As Long, c As Long, first As Boolean
    ReDim parts(0 To 1023)
    Append parts, n, "[["
    first = True
    For Each table In sheet.ListObjects
        If Not first Then Append parts, n, ","
        first = False
        Append parts, n, "[" & JsonText(table.Name) & "," & JsonText(Replace(table.Range.Address, "$", "")) & _
            "," & LCase$(CStr(table.ShowHeaders)) & "," & LCase$(CStr(table.ShowTotals)) & "]"
    Next table
    Append parts, n, "],["
    If Not IsEmpty(sheet.UsedRange.Value) Then
        With sheet.UsedRange
            lastRow = .Row + .Rows.Count - 1
            lastCol = .Column + .Columns.Count - 1
        End With
        If lastRow = 1 And lastCol = 1 Then
            values = sheet.Range("A1").Value
            If Not CellIsEmpty(values) Then Append parts, n, "[" & JsonValue(values) & "]"
        Else
            values = sheet.Range(sheet.Cells(1, 1), sheet.Cells(lastRow, lastCol)).Value
            ' without trailing empty rows, then trailing empty columns
            Do While lastRow > 0
                If Not RowIsEmpty(values, lastRow, lastCol) Then Exit Do
                lastRow = lastRow - 1
            Loop
            Do While lastCol > 0 And lastRow > 0
                If Not ColumnIsEmpty(values, lastCol, lastRow) Then Exit Do
                lastCol = lastCol - 1
            Loop
            For r = 1 To lastRow
                If r > 1 Then Append parts, n, ","
                Append parts, n, "["
                For c = 1 To lastCol
                    If c > 1 Then Append parts, n, ","
                    Append parts, n, JsonValue(values(r, c))
                Next c
                Append parts, n, "]"
            Next r
        End If
    End If
    Append parts, n, "]]"
    ReDim Preserve parts(0 To n - 1)
    SheetDigest = Sha256Hex(Join(parts, ""))
End Function

' parts(n) = text, growing the array by doubling (one Join at the end instead of quadratic
' string concatenation over 500,000 cells).
Private Sub Append(ByRef parts() As String, ByRef n As Long, ByVal text As String)
    If n > UBound(parts) Then ReDim Preserve parts(0 To 2 * UBound(parts) + 1)
    parts(n) = text
    n = n + 1
End Sub

Private Function CellIsEmpty(ByVal value As Variant) As Boolean
    If IsEmpty(value) Then
        CellIsEmpty = True
    ElseIf VarType(value) = vbString Then
        CellIsEmpty = (Len(value) = 0)
    End If
End Function

Private Function RowIsEmpty(ByRef values As Variant, ByVal r As Long, ByVal lastCol As Long) As Boolean
    Dim c As Long
    For c = 1 To lastCol
        If Not CellIsEmpty(values(r, c)) Then Exit Function
    Next c
    RowIsEmpty = True
End Function

Private Function ColumnIsEmpty(ByRef values As Variant, ByVal c As Long, ByVal lastRow As Long) As Boolean
    Dim r As Long
    For r = 1 To lastRow
        If Not CellIsEmpty(values(r, c)) Then Exit Function
    Next r
    ColumnIsEmpty = True
End Function

' One cell as JSON, as xlwings sends it: "" when empty, numbers, true/false, text; errors as
' their text (#N/A). xlwings sends dates as text the server does not predict: their digest
' then differs and the sheet goes with its values.
Private Function JsonValue(ByVal value As Variant) As String
    Select Case VarType(value)
        Case vbEmpty, vbNull
            JsonValue = """"""
        Case vbBoolean
            JsonValue = LCase$(CStr(value))
        Case vbInteger, vbLong, vbSingle, vbDouble, vbCurrency, vbDecimal, vbByte
            JsonValue = JsonNumber(CDbl(value))
        Case vbError
            JsonValue = JsonText(ErrorText(value))
        Case vbDate
            JsonValue = JsonText(Format$(value, "yyyy-mm-dd\Thh:nn:ss") & ".000Z")
        Case Else
            JsonValue = JsonText(CStr(value))
    End Select
End Function

' A number as JSON.stringify writes it, within the 15 significant digits VBA keeps: Str$ uses
' "." whatever the locale; "0" before a leading "."; an exponent (1E-07) never matches the
' server's text, which only makes that sheet go with its values.
Private Function JsonNumber(ByVal value As Double) As String
    Dim text As String
    text = Trim$(Str$(value))
    If Left$(text, 1) = "." Then text = "0" & text
    If Left$(text, 2) = "-." Then text = "-0" & Mid$(text, 2)
    JsonNumber = text
End Function

Private Function ErrorText(ByVal value As Variant) As String
    Select Case CLng(value)
        Case 2007: ErrorText = "#DIV/0!"
        Case 2042: ErrorText = "#N/A"
        Case 2029: ErrorText = "#NAME?"
        Case 2000: ErrorText = "#NULL!"
        Case 2036: ErrorText = "#NUM!"
        Case 2023: ErrorText = "#REF!"
        Case 2015: ErrorText = "#VALUE!"
        Case Else: ErrorText = "#N/A"
    End Select
End Function

' Text as a JSON string literal: quote, backslash and control characters escaped as
' JSON.stringify does (\b \t \n \f \r, the others \u00xx); everything else as it is.
Private Function JsonText(ByVal text As String) As String
    Dim i As Long, code As Long, out As String, ch As String, plain As Boolean
    plain = True
    For i = 1 To Len(text)
        code = AscW(Mid$(text, i, 1))
        If code >= 0 And (code < 32 Or code = 34 Or code = 92) Then
            plain = False
            Exit For
        End If
    Next i
    If plain Then
        JsonText = """" & text & """"
        Exit Function
    End If
    For i = 1 To Len(text)
        ch = Mid$(text, i, 1)
        code = AscW(ch)
        Select Case code
            Case 34: out = out & "\"""
            Case 92: out = out & "\\"
            Case 8: out = out & "\b"
            Case 9: out = out & "\t"
            Case 10: out = out & "\n"
            Case 12: out = out & "\f"
            Case 13: out = out & "\r"
            Case 0 To 31: out = out & "\u00" & LCase$(Right$("0" & Hex$(code), 2))
            Case Else: out = out & ch
        End Select
    Next i
    JsonText = """" & out & """"
End Function

' SHA-256 of the UTF-8 bytes of `text`, lower-case hex; "" when Windows' CNG is not there.
Private Function Sha256Hex(ByVal text As String) As String
#If Mac Or Not VBA7 Then
    Sha256Hex = ""
#Else
    Dim bytes() As Byte, size As Long, algorithm As LongPtr, hash As LongPtr
    Dim digest(0 To 31) As Byte, i As Long, out As String
    size = WideCharToMultiByte(CP_UTF8, 0, StrPtr(text), Len(text), 0, 0, 0, 0)
    If size <= 0 Then Exit Function
    ReDim bytes(0 To size - 1)
    WideCharToMultiByte CP_UTF8, 0, StrPtr(text), Len(text), VarPtr(bytes(0)), size, 0, 0
    If BCryptOpenAlgorithmProvider(algorithm, StrPtr("SHA256"), 0, 0) <> 0 Then Exit Function
    If BCryptCreateHash(algorithm, hash, 0, 0, 0, 0, 0) = 0 Then
        If BCryptHashData(hash, VarPtr(bytes(0)), size, 0) = 0 Then
            If BCryptFinishHash(hash, VarPtr(digest(0)), 32, 0) = 0 Then
                For i = 0 To 31
                    out = out & LCase$(Right$("0" & Hex$(digest(i)), 2))
                Next i
                Sha256Hex = out
            End If
        End If
        BCryptDestroyHash hash
    End If
    BCryptCloseAlgorithmProvider algorithm, 0
#End If
End Function

' "%E5%BE%97" -> the text (UTF-8 percent-encoding, as the server writes names in the stamp).
Private Function UrlDecode(ByVal text As String) As String
    Dim i As Long, bytes() As Byte, n As Long, ch As String
    If InStr(text, "%") = 0 Then
        UrlDecode = text
        Exit Function
    End If
    ReDim bytes(0 To Len(text))
    i = 1
    Do While i <= Len(text)
        ch = Mid$(text, i, 1)
        If ch = "%" And i + 2 <= Len(text) Then
            bytes(n) = CByte("&H" & Mid$(text, i + 1, 2))
            i = i + 3
        Else
            bytes(n) = AscW(ch) And 255
            i = i + 1
        End If
        n = n + 1
    Loop
    UrlDecode = Utf8Text(bytes, n)
End Function

' UTF-8 bytes -> text (one to three bytes per character: the BMP, which holds sheet names).
Private Function Utf8Text(ByRef bytes() As Byte, ByVal n As Long) As String
    Dim i As Long, b As Long, out As String
    Do While i < n
        b = bytes(i)
        If b < &H80 Then
            out = out & ChrW$(b)
            i = i + 1
        ElseIf b < &HE0 Then
            out = out & ChrW$(((b And &H1F) * &H40) Or (bytes(i + 1) And &H3F))
            i = i + 2
        Else
            out = out & ChrW$(((b And &HF) * &H1000) Or ((bytes(i + 1) And &H3F) * &H40) Or (bytes(i + 2) And &H3F))
            i = i + 3
        End If
    Loop
    Utf8Text = out
End Function

' The value of `key` in the kb_meta table ("" when there is none).
Private Function MetaValue(ByVal book As Workbook, ByVal key As String) As String
    Dim cell As Range
    Set cell = MetaValueCell(book, key)
    If Not cell Is Nothing Then MetaValue = Trim$(CStr(cell.Value))
End Function

Private Sub SetMetaValue(ByVal book As Workbook, ByVal key As String, ByVal value As String)
    Dim cell As Range
    Set cell = MetaValueCell(book, key)
    If Not cell Is Nothing Then cell.Value = value
End Sub

' The cell right of the key cell `key` in kb_meta's body, or Nothing.
Private Function MetaValueCell(ByVal book As Workbook, ByVal key As String) As Range
    Dim sheet As Worksheet, table As ListObject, found As Range
    For Each sheet In book.Worksheets
        For Each table In sheet.ListObjects
            If LCase$(table.Name) = META_TABLE Then
                If Not table.DataBodyRange Is Nothing Then
                    Set found = table.DataBodyRange.Find(What:=key, LookIn:=xlValues, LookAt:=xlWhole, MatchCase:=True)
                    If Not found Is Nothing Then Set MetaValueCell = found.Offset(0, 1)
                End If
                Exit Function
            End If
        Next table
    Next sheet
End Function
