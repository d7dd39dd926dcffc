<#
.SYNOPSIS
Sign LeafDesk's Windows files with signtool: the bundle's executables and libraries, or given files.

.DESCRIPTION
Signs with SHA-256 file digests and an RFC 3161 timestamp, so that signatures stay valid after the
certificate expires, then verifies each signature against the Windows trust policy. The code
signing certificate is picked from the certificate store by its SHA-1 thumbprint, which works for
certificates on hardware tokens and cloud HSMs as well as imported ones.

With -Folder, every .exe, .dll and .pyd under the folder that has no valid signature yet is signed;
files that already carry a valid vendor signature (python311.dll, Qt's DLLs) are left as they are.
With -Path, the given files are signed whatever their state, as for the finished installer.

NOTE: written from the signtool documentation and not run, because LeafDesk is built and tested
on Linux and has no code signing certificate.

.EXAMPLE
powershell -File packaging\windows\sign.ps1 -Folder dist\LeafDesk -CertificateThumbprint 0123...ABCD -TimestampUrl http://timestamp.example.com

.EXAMPLE
powershell -File packaging\windows\sign.ps1 -Path dist\LeafDesk-0.1.0-setup.exe -CertificateThumbprint 0123...ABCD -TimestampUrl http://timestamp.example.com
#>
[CmdletBinding(DefaultParameterSetName = "Folder")]
param(
    [Parameter(Mandatory = $true, ParameterSetName = "Folder")]
    [string] $Folder,

    [Parameter(Mandatory = $true, ParameterSetName = "Path")]
    [string[]] $Path,

    # SHA-1 thumbprint of the code signing certificate in the CurrentUser or LocalMachine store.
    [Parameter(Mandatory = $true)]
    [string] $CertificateThumbprint,

    # The RFC 3161 timestamp server of the certificate's issuer.
    [Parameter(Mandatory = $true)]
    [string] $TimestampUrl,

    # signtool.exe to use; by default the newest x64 one from the installed Windows SDKs.
    [string] $SignTool = ""
)

$ErrorActionPreference = "Stop"

function Find-SignTool {
    $kits = Join-Path ${env:ProgramFiles(x86)} "Windows Kits\10\bin"
    $found = Get-ChildItem -Path $kits -Filter signtool.exe -Recurse -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -match "\\x64\\signtool\.exe$" } |
        Sort-Object { [version]($_.Directory.Parent.Name -replace "[^0-9.]", "") } -Descending |
        Select-Object -First 1
    if (-not $found) {
        throw "signtool.exe not found under $kits; install the Windows SDK or pass -SignTool PATH"
    }
    return $found.FullName
}

if (-not $SignTool) {
    $SignTool = Find-SignTool
}

if ($PSCmdlet.ParameterSetName -eq "Folder") {
    # @() keeps a single match an array, so that indexing below takes files, not characters.
    $files = @(Get-ChildItem -Path $Folder -Recurse -File -Include *.exe, *.dll, *.pyd |
        Where-Object { (Get-AuthenticodeSignature -FilePath $_.FullName).Status -ne "Valid" } |
        ForEach-Object { $_.FullName })
} else {
    $files = @($Path | ForEach-Object { (Resolve-Path $_).Path })
}

if ($files.Count -eq 0) {
    Write-Host "nothing to sign"
    exit 0
}

# signtool takes many files in one call; batches keep the command line under Windows' limit.
$batchSize = 50
for ($start = 0; $start -lt $files.Count; $start += $batchSize) {
    $batch = @($files[$start..([Math]::Min($start + $batchSize, $files.Count) - 1)])
    & $SignTool sign /fd SHA256 /td SHA256 /tr $TimestampUrl /sha1 $CertificateThumbprint $batch
    if ($LASTEXITCODE -ne 0) { throw "signtool sign failed with exit code $LASTEXITCODE" }
    # /pa checks against the Authenticode policy that Windows applies to downloaded programs.
    & $SignTool verify /pa $batch
    if ($LASTEXITCODE -ne 0) { throw "signtool verify failed with exit code $LASTEXITCODE" }
}
Write-Host "signed $($files.Count) file(s)"
